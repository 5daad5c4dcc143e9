"""What an engine is built from and how: :class:`EngineConfig`, :class:`SourceModel`, the checks.

Everything here is decided without TensorRT: option validation, the source model's precision
(strongly typed networks take it from the ONNX file: FP16 from an FP16 or mixed-precision
graph, INT8 from Q/DQ nodes), the profiles (from the model's ExportSpec or ``--min/--opt/--max``)
and the command that rebuilds an engine.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nst.artifacts import sha256_file
from nst.contract.metadata import ModelMetadata
from nst.contract.profiles import Profile, check_ordered, check_profiles, format_shape, input_shapes
from nst.contract.profiles import profiles_from_spec as spec_profiles
from nst.errors import InputError, ModelError, require
from nst.runtime.trt.libs import CHOICES, RTX, TENSORRT, parse_compute_capability

QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})
PRECISIONS = ("fp32", "fp16", "int8")
_FLOAT16 = 10  # onnx.TensorProto.FLOAT16


@dataclass(frozen=True)
class EngineConfig:
    """How to build an engine. Invalid combinations raise; nothing is silently changed.

    Attributes:
        fp16: The model is FP16 (``nst calibrate --precision fp16``); required for one, refused
            for any other (the precision is the ONNX file's, never a builder flag).
        int8: The model is INT8 Q/DQ (``nst calibrate --precision int8``); same rule.
        library: ``auto``, ``tensorrt`` (10.x or 11.x) or ``rtx`` (TensorRT-RTX).
        compute_capabilities: TensorRT-RTX targets as ``"8.6"`` (``"86"`` is accepted and
            normalised); empty: the GPU at hand.
        profiles: Optimisation profiles of the image input; empty: the model's ExportSpec.
        timing_cache: Tactic timing cache file, loaded if present and saved after the build.
        workspace_mb: Builder workspace limit in MiB (None: TensorRT's default, all memory).
        version_compatible: TensorRT 10/11 only: an engine later runtimes of the major can load.
        exclude_lean_runtime: Leave the lean runtime out of a version-compatible engine.
        optimization_level: Builder optimisation level 0-5 (None: TensorRT's default 3).
    """

    fp16: bool = False
    int8: bool = False
    library: str = "auto"
    compute_capabilities: tuple[str, ...] = ()
    profiles: tuple[Profile, ...] = ()
    timing_cache: Path | None = None
    workspace_mb: int | None = None
    version_compatible: bool = False
    exclude_lean_runtime: bool = False
    optimization_level: int | None = None

    def __post_init__(self) -> None:
        if self.fp16 and self.int8:
            raise InputError("--fp16 and --int8 exclude each other: give the one matching the model")
        if self.library not in CHOICES:
            raise InputError(f"--trt must be one of {list(CHOICES)}, got {self.library!r}")
        targets = tuple(dict.fromkeys(parse_compute_capability(c) for c in self.compute_capabilities))
        object.__setattr__(self, "compute_capabilities", targets)
        if targets and self.library == "tensorrt":
            raise InputError(
                "--compute-capability needs TensorRT-RTX (--trt rtx): TensorRT 10/11 build for the "
                "GPU they run on; build on the target GPU (or with its hardware-compatibility mode)"
            )
        if self.exclude_lean_runtime and not self.version_compatible:
            raise InputError("--exclude-lean-runtime needs --version-compatible")
        if self.workspace_mb is not None and self.workspace_mb < 1:
            raise InputError(f"workspace must be >= 1 MiB, got {self.workspace_mb}")
        if self.optimization_level is not None and not 0 <= self.optimization_level <= 5:
            raise InputError(f"optimization level must be 0-5, got {self.optimization_level}")
        if self.timing_cache is not None and Path(self.timing_cache).is_dir():
            raise InputError(f"timing cache {self.timing_cache} is a folder; give a file path")
        for p in self.profiles:
            check_ordered(p)

    @property
    def precision(self) -> str:
        """The precision the flags ask for: ``fp16``, ``int8`` or ``fp32``."""
        return "fp16" if self.fp16 else "int8" if self.int8 else "fp32"


@dataclass(frozen=True)
class SourceModel:
    """An ONNX model as the builder sees it before TensorRT does.

    Attributes:
        path: The file.
        metadata: Its nst metadata.
        precision: ``fp32``, ``fp16`` (nst FP16 conversion or float16 tensors) or ``int8`` (Q/DQ).
        sha256: Hash of the file.
        float16_io: Graph inputs or outputs are float16.
    """

    path: Path
    metadata: ModelMetadata
    precision: str
    sha256: str
    float16_io: bool = False


def read_model(path: str | Path) -> SourceModel:
    """Read an nst ONNX model's metadata and precision (weights not loaded).

    Raises:
        ModelError: Missing file, not ONNX, or no nst metadata.
        MissingDependencyError: ``onnx`` is not installed.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"model file not found: {p}")
    onnx: Any = require("onnx", "trt")
    try:
        proto = onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends
        raise ModelError(f"cannot read ONNX model {p}: {str(exc).splitlines()[0][:200]}") from exc
    props = {prop.key: prop.value for prop in proto.metadata_props}
    metadata = ModelMetadata.from_props(props, source=str(p))
    io = [*proto.graph.input, *proto.graph.output]
    float16_io = any(v.type.tensor_type.elem_type == _FLOAT16 for v in io)
    return SourceModel(p, metadata, model_precision(proto), sha256_file(p), float16_io)


def model_precision(proto: Any) -> str:
    """``int8`` with Q/DQ nodes; ``fp16`` when nst converted it or it holds float16 tensors."""
    graph = proto.graph
    if any(node.op_type in QDQ_OPS for node in graph.node):
        return "int8"
    stamped = {p.key: p.value for p in proto.metadata_props}.get("nst.precision")
    casts = (a.i for n in graph.node if n.op_type == "Cast" for a in n.attribute if a.name == "to")
    io = (v.type.tensor_type.elem_type for v in [*graph.input, *graph.output])
    if stamped == "fp16" or any(t.data_type == _FLOAT16 for t in graph.initializer):
        return "fp16"
    return "fp16" if any(t == _FLOAT16 for t in casts) or any(t == _FLOAT16 for t in io) else "fp32"


def convert_command(model: SourceModel, precision: str) -> str:
    """The ``nst calibrate`` command that makes the ``precision`` model from ``model``."""
    out = model.path.with_name(f"{model.path.stem}.{precision}.onnx")
    return shlex.join(["nst", "calibrate", str(model.path), "--precision", precision, "--data", "IMAGES",
                       "-o", str(out)])  # fmt: skip


def check_precision(config: EngineConfig, model: SourceModel) -> None:
    """The precision flag must match the model: strongly typed builds take it from the ONNX.

    Raises:
        InputError: Naming the model's precision and the flag or command that fits.
    """
    wanted, have, name = config.precision, model.precision, model.path.name
    if wanted == have:
        return
    if have == "fp32":
        raise InputError(
            f"--{wanted} builds an {wanted.upper()} ONNX model and {name} is FP32; make one first: "
            f"{convert_command(model, wanted)}"
        )
    what = "INT8-quantised (Q/DQ nodes)" if have == "int8" else "an FP16 model"
    flag = f"--{have}"
    hint = f"build it with {flag}" if wanted == "fp32" else f"build it with {flag}, not --{wanted}"
    raise InputError(f"{name} is {what}; {hint}")


def resolve_profiles(config: EngineConfig, model: SourceModel) -> tuple[Profile, ...]:
    """Check the config against the model and return the image-input profiles to build.

    Raises:
        InputError: The precision flag does not match the model; profiles that do not fit the
            model or whose other inputs cannot be derived.
        ModelError: The model's spec has no profile (give ``--min/--opt/--max``).
    """
    check_precision(config, model)
    spec = model.metadata.spec
    profiles = config.profiles or spec_profiles(spec)
    check_profiles(profiles, spec)
    for p in profiles:
        input_shapes(spec, p)  # every input must be derivable
    return profiles


def library_flag(library: str) -> str:
    """``--trt`` value of a library name: ``tensorrt`` or ``rtx``."""
    return {TENSORRT: "tensorrt", RTX: "rtx"}.get(library, library)


def build_command(
    onnx_path: str | Path, output: str | Path, config: EngineConfig, library: str | None = None
) -> str:
    """The ``nst build-engine`` command line that rebuilds this engine (with ``library`` pinned)."""
    args = ["nst", "build-engine", str(onnx_path), "-o", str(output)]
    choice = library_flag(library) if library else config.library
    if choice != "auto":
        args += ["--trt", choice]
    for cc in config.compute_capabilities:
        args += ["--compute-capability", cc.replace(".", "")]
    flags = {"--fp16": config.fp16, "--int8": config.int8, "--version-compatible": config.version_compatible,
             "--exclude-lean-runtime": config.exclude_lean_runtime}  # fmt: skip
    args += [flag for flag, on in flags.items() if on]
    options = {"--timing-cache": config.timing_cache, "--workspace-mb": config.workspace_mb,
               "--optimization-level": config.optimization_level}  # fmt: skip
    args += [str(v) for k, value in options.items() if value is not None for v in (k, value)]
    for p in config.profiles:
        args += ["--min", format_shape(p.min), "--opt", format_shape(p.opt), "--max", format_shape(p.max)]
    return shlex.join([*args, "--force"])
