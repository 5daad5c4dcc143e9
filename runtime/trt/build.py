"""TensorRT engines from nst ONNX models: ``engine_from_onnx(path, EngineConfig) -> bytes``.

Written against the TensorRT 10 Python API (``tensorrt`` is imported inside the functions that
build, never at module import). What is decided here without TensorRT, and tested on CPU:
profiles (from the model's ExportSpec or ``--min/--opt/--max``), option validation, INT8 mode
(explicit QDQ vs calibrated), precisions, the rebuild command. What needs TensorRT is the call
sequence in :func:`engine_from_onnx`, tested against a recording fake; on hardware it is
unverified here (docs/GPU.md).

FP16 keeps normalisation layers in FP32: instance norm's variance of un-normalised
activations overflows FP16's 65504 range on bright, high-contrast images (reported for
TensorRT, ONNX Runtime and torch2trt alike), so those layers carry precision constraints.
"""

from __future__ import annotations

import logging
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nst
from nst.artifacts import sha256_file
from nst.contract.metadata import ModelMetadata
from nst.contract.profiles import (
    Profile,
    check_ordered,
    check_profiles,
    format_shape,
    image_input,
    input_shapes,
    profiles_from_spec,
)
from nst.errors import EngineBuildError, InputError, MissingDependencyError, ModelError, require
from nst.runtime.trt.cuda import CudaBackend, make_backend
from nst.runtime.trt.sidecar import (
    Platform,
    Sidecar,
    check_output,
    sidecar_path,
    write_atomic,
)

LOG = logging.getLogger("nst.trt")
# Layer types kept in FP32 under --fp16: TensorRT 10's ONNX parser turns InstanceNormalization
# into INormalizationLayer; REDUCE covers norms exported as ReduceMean chains.
FP32_LAYER_TYPES = ("NORMALIZATION", "REDUCE")
FP32_PLUGIN_HINTS = ("InstanceNorm", "GroupNorm", "LayerNorm")  # older parsers' norm plugins
QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})
Progress = Callable[[str], None]


@dataclass(frozen=True)
class EngineConfig:
    """How to build an engine. Invalid combinations raise; nothing is silently changed.

    Attributes:
        fp16: Allow FP16 kernels (normalisation layers stay FP32 when ``fp32_norms``).
        int8: Allow INT8: from the model's Q/DQ nodes, or calibrated on ``calib_data``.
        calib_data: Image folder for entropy calibration (non-QDQ models only).
        calib_cache: Calibration cache file, read when present and written after calibrating.
        calib_images: At most this many images are used for calibration.
        profiles: Optimisation profiles of the image input; empty: the model's ExportSpec.
        timing_cache: Tactic timing cache file, loaded if present and saved after the build.
        workspace_mb: Builder workspace limit in MiB (None: TensorRT's default, all memory).
        version_compatible: Build an engine later TensorRT 10.x runtimes can load.
        exclude_lean_runtime: Leave the lean runtime out of a version-compatible engine.
        optimization_level: Builder optimisation level 0-5 (None: TensorRT's default 3).
        fp32_norms: Keep normalisation layers in FP32 under FP16.
    """

    fp16: bool = False
    int8: bool = False
    calib_data: Path | None = None
    calib_cache: Path | None = None
    calib_images: int = 64
    profiles: tuple[Profile, ...] = ()
    timing_cache: Path | None = None
    workspace_mb: int | None = None
    version_compatible: bool = False
    exclude_lean_runtime: bool = False
    optimization_level: int | None = None
    fp32_norms: bool = True

    def __post_init__(self) -> None:
        if (self.calib_data is not None or self.calib_cache is not None) and not self.int8:
            raise InputError("--calib-data/--calib-cache only apply with --int8")
        if self.calib_data is not None and not Path(self.calib_data).is_dir():
            raise InputError(f"calibration data {self.calib_data} is not a folder of images")
        if self.calib_images < 1:
            raise InputError(f"calib_images must be >= 1, got {self.calib_images}")
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


@dataclass(frozen=True)
class ModelInfo:
    """What the builder needs to know about an ONNX model before TensorRT sees it."""

    path: Path
    metadata: ModelMetadata
    qdq: bool
    sha256: str


def read_model(path: str | Path) -> ModelInfo:
    """Read an nst ONNX model's metadata and whether it is Q/DQ-quantised (weights not loaded).

    Raises:
        ModelError: Missing file, not ONNX, or no nst metadata.
        MissingDependencyError: ``onnx`` is not installed.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"model file not found: {p}")
    onnx: Any = require("onnx", "trt")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends
        raise ModelError(f"cannot read ONNX model {p}: {str(exc).splitlines()[0][:200]}") from exc
    props = {prop.key: prop.value for prop in model.metadata_props}
    metadata = ModelMetadata.from_props(props, source=str(p))
    qdq = any(node.op_type in QDQ_OPS for node in model.graph.node)
    return ModelInfo(p, metadata, qdq, sha256_file(p))


def resolve_profiles(config: EngineConfig, info: ModelInfo) -> tuple[Profile, ...]:
    """Check the config against the model and return the profiles to build.

    Raises:
        InputError: ``--int8`` with neither a QDQ model nor calibration data; a QDQ model
            without ``--int8`` or with calibration data; profiles that do not fit the model.
    """
    name = info.path.name
    if config.int8 and not info.qdq and config.calib_data is None and config.calib_cache is None:
        raise InputError(
            f"--int8 needs a QDQ model (from nst calibrate) or --calib-data DIR; {name} has no Q/DQ nodes"
        )
    if info.qdq and not config.int8:
        raise InputError(f"{name} is INT8-quantised (Q/DQ nodes); build it with --int8")
    if info.qdq and (config.calib_data is not None or config.calib_cache is not None):
        raise InputError(f"{name} carries its own INT8 scales (Q/DQ); drop --calib-data/--calib-cache")
    implicit = config.int8 and not info.qdq
    if implicit and len(info.metadata.spec.inputs) > 1:
        raise InputError(
            f"{name} has inputs {[t.name for t in info.metadata.spec.inputs]}; the entropy calibrator feeds "
            "images only: make a QDQ model with nst calibrate and build that with --int8"
        )
    if implicit and config.calib_data is None and not Path(str(config.calib_cache)).is_file():
        raise InputError(
            f"--calib-cache {config.calib_cache} does not exist; give --calib-data DIR to make it"
        )
    profiles = config.profiles or profiles_from_spec(info.metadata.spec)
    check_profiles(profiles, info.metadata.spec)
    for p in profiles:
        input_shapes(info.metadata.spec, p)  # every input must be derivable
    return profiles


def precisions(config: EngineConfig, info: ModelInfo) -> tuple[str, ...]:
    """``("fp32", "fp16", "int8-qdq")`` etc., as recorded in the sidecar."""
    out = ["fp32"]
    if config.fp16:
        out.append("fp16")
    if config.int8:
        out.append("int8-qdq" if info.qdq else "int8-calibrated")
    return tuple(out)


def build_command(onnx_path: str | Path, output: str | Path, config: EngineConfig) -> str:
    """The ``nst build-engine`` command line that rebuilds this engine."""
    args = ["nst", "build-engine", str(onnx_path), "-o", str(output)]
    flags = {"--fp16": config.fp16, "--int8": config.int8, "--version-compatible": config.version_compatible,
             "--exclude-lean-runtime": config.exclude_lean_runtime}  # fmt: skip
    args += [flag for flag, on in flags.items() if on]
    if not config.fp32_norms:
        args.append("--no-fp32-norms")
    if config.calib_images != EngineConfig.calib_images:
        args += ["--calib-images", str(config.calib_images)]
    options = {"--calib-data": config.calib_data, "--calib-cache": config.calib_cache,
               "--timing-cache": config.timing_cache, "--workspace-mb": config.workspace_mb,
               "--optimization-level": config.optimization_level}  # fmt: skip
    args += [str(v) for k, value in options.items() if value is not None for v in (k, value)]
    for p in config.profiles:
        args += ["--min", format_shape(p.min), "--opt", format_shape(p.opt), "--max", format_shape(p.max)]
    return shlex.join([*args, "--force"])


def import_tensorrt_builder() -> Any:
    """Import TensorRT 10, the builder API this module is written against.

    Raises:
        MissingDependencyError: TensorRT is missing, or another major version (TensorRT 11
            removed weakly typed networks, layer precision constraints and implicit INT8).
    """
    trt: Any = require("tensorrt", "trt")
    if not str(trt.__version__).startswith("10."):
        raise MissingDependencyError(
            f"nst build-engine needs TensorRT 10.x, found {trt.__version__}; "
            "install it with: pip install 'tensorrt>=10,<11'"
        )
    return trt


def engine_from_onnx(
    path: str | Path,
    config: EngineConfig,
    *,
    info: ModelInfo | None = None,
    progress: Progress | None = None,
    cuda_backend: str | CudaBackend = "cuda-python",
) -> bytes:
    """Build a serialized TensorRT engine from an nst ONNX model.

    Args:
        path: The ONNX model (with nst metadata).
        config: Build options.
        info: :func:`read_model` of ``path``, if already read.
        progress: Called with a line per top-level build phase.
        cuda_backend: Device memory for INT8 calibration batches.

    Returns:
        The serialized engine.

    Raises:
        MissingDependencyError: TensorRT is not installed.
        InputError: Invalid options for this model (see :func:`resolve_profiles`).
        EngineBuildError: The ONNX parser or the builder failed (TensorRT's errors included).
    """
    from nst.runtime.trt.calls import configure, make_logger, parse_network, save_timing_cache

    info = info or read_model(path)
    profiles = resolve_profiles(config, info)
    trt = import_tensorrt_builder()
    logger = make_logger(trt)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = parse_network(trt, network, logger, info.path)  # owns the weights: keep until built
    bconfig = builder.create_builder_config()
    setup = configure(trt, builder, bconfig, network, config, info, profiles, progress, cuda_backend)
    try:
        started = time.perf_counter()
        serialized = builder.build_serialized_network(network, bconfig)
    finally:
        setup.release()
    if serialized is None:
        detail = "; ".join(logger.errors[-3:]) or "no error logged"
        raise EngineBuildError(f"TensorRT could not build an engine from {info.path.name}: {detail}")
    if config.timing_cache is not None:
        save_timing_cache(bconfig, config.timing_cache)
    LOG.info("built engine in %.1fs (%d layers kept FP32: %s)", time.perf_counter() - started,
             len(setup.fp32_layers), ", ".join(setup.fp32_layers[:8]))  # fmt: skip
    del parser
    return bytes(serialized)


@dataclass(frozen=True)
class BuildResult:
    """A written engine and its sidecar."""

    path: Path
    sidecar: Sidecar
    size_bytes: int
    seconds: float


def build_engine(
    onnx_path: str | Path,
    output: str | Path,
    config: EngineConfig,
    *,
    force: bool = False,
    progress: Progress | None = None,
    cuda_backend: str | CudaBackend = "cuda-python",
) -> BuildResult:
    """Build ``output`` (the engine) and ``output.json`` (its sidecar) from an ONNX model.

    Raises:
        OutputExistsError: ``output`` or its sidecar exists and ``force`` is False.
        plus everything :func:`engine_from_onnx` raises.
    """
    target = check_output(output, force=force)
    started = time.perf_counter()
    info = read_model(onnx_path)
    profiles = resolve_profiles(config, info)  # fail fast, before TensorRT or CUDA load
    trt = import_tensorrt_builder()
    backend = make_backend(cuda_backend)
    gpu = backend.device_info()
    data = engine_from_onnx(onnx_path, config, info=info, progress=progress, cuda_backend=backend)
    platform = Platform(str(trt.__version__), gpu.name, gpu.compute_capability)
    sidecar = Sidecar(
        trt_version=platform.trt_version, gpu_name=platform.gpu_name,
        compute_capability=platform.compute_capability, input_name=image_input(info.metadata.spec).name,
        profiles=profiles, precisions=precisions(config, info), onnx_sha256=info.sha256,
        onnx_path=str(onnx_path), nst_version=nst.__version__,
        build_command=build_command(onnx_path, target, config), version_compatible=config.version_compatible,
        exclude_lean_runtime=config.exclude_lean_runtime, model_metadata=info.metadata.to_props(),
    )  # fmt: skip
    write_atomic(target, data)
    write_atomic(sidecar_path(target), sidecar.to_json().encode())
    return BuildResult(target, sidecar, len(data), time.perf_counter() - started)
