"""A Triton Inference Server model repository from nst models: ``nst export-triton``.

One folder per model, version ``1``, a ``config.pbtxt`` built as Triton's own protobuf
message (``tritonclient.grpc.model_config_pb2.ModelConfig``), printed with ``text_format`` and
parsed back before it is written, so every config is valid under Triton's schema:

    model_repository/
      painting/config.pbtxt           backend "onnxruntime" (or "tensorrt" for an engine)
      painting/1/model.onnx           (model.plan + model.plan.json for an engine)
      painting_python/config.pbtxt    backend "python": nst's own Runner (--backend both|python)
      painting_python/1/model.py      (export/triton_template.py)
      painting_python/1/model.onnx

Batching: Triton's ``max_batch_size > 0`` prepends one batch axis to *every* input and output,
so a model is batched by Triton only when every tensor of its spec leads with the ``batch``
axis (johnson, sr, texture, texture_style); its dims drop that axis (``[3, -1, -1]``) and it
gets ``dynamic_batching``. A model with an input without a batch axis (``style_weights [S]`` of
cin and stylebank, the ``style [1, 3, h, w]`` image of style-swap) gets ``max_batch_size: 0``
and its full shapes, batch axis as ``-1``: a client sends ``[N, 3, H, W]`` images with one
``[S]`` weight vector, exactly the ONNX graph's contract, and Triton does not batch requests.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nst.artifacts import check_targets, human_size, staged, write_bytes
from nst.contract.spec import TensorSpec
from nst.errors import ExportError, InputError, OutputExistsError, did_you_mean, require
from nst.export.triton_source import ModelSource, read_source
from nst.export.triton_template import MODEL_PY

BACKENDS = ("native", "python", "both")
INSTANCE_KINDS = {"gpu": "KIND_GPU", "cpu": "KIND_CPU"}
DEFAULT_MAX_BATCH = 8
PYTHON_SUFFIX = "_python"
OPTIONAL_INPUTS = ("strength",)  # style-swap: omitted means 1 (the python backend fills it)
NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
#: numpy dtype name -> Triton data type
DATA_TYPES = {
    "float32": "TYPE_FP32", "float16": "TYPE_FP16", "float64": "TYPE_FP64", "bfloat16": "TYPE_BF16",
    "int8": "TYPE_INT8", "int16": "TYPE_INT16", "int32": "TYPE_INT32", "int64": "TYPE_INT64",
    "uint8": "TYPE_UINT8", "bool": "TYPE_BOOL",
}  # fmt: skip


@dataclass(frozen=True)
class TritonOptions:
    """What ``nst export-triton`` writes.

    Attributes:
        models: ``{name: model file}`` (``.onnx``, or a ``.plan``/``.engine`` with its sidecar).
        output: The model repository folder (created; other models in it are left alone).
        backend: ``native`` (onnxruntime / tensorrt backend), ``python`` (nst's Runner in
            Triton's python backend) or ``both`` (``<name>`` native, ``<name>_python``).
        max_batch_size: Largest batch of a batched model; default 8 for ONNX, an engine's
            largest profile batch.
        instance_kind: ``gpu`` or ``cpu``.
        instance_count: Model instances per GPU (or on the CPU).
        max_queue_delay_us: How long the dynamic batcher waits to fill a batch.
        tensorrt: Native ONNX on GPU: run it through ONNX Runtime's TensorRT execution
            provider (FP16; INT8 for Q/DQ models), not plain CUDA. (A python-backend ONNX model
            on GPU runs on ONNX Runtime's CUDA provider.)
        threads: ONNX Runtime intra-op threads of a python-backend instance (0 = its default).
        force: Overwrite existing files.
    """

    models: Mapping[str, Path]
    output: Path
    backend: str = "native"
    max_batch_size: int | None = None
    instance_kind: str = "gpu"
    instance_count: int = 1
    max_queue_delay_us: int = 100
    tensorrt: bool = True
    threads: int = 0
    force: bool = False

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise InputError(f"unknown backend {self.backend!r} (choose from {', '.join(BACKENDS)})"
                             f"{did_you_mean(self.backend, BACKENDS)}")  # fmt: skip
        if self.instance_kind not in INSTANCE_KINDS:
            raise InputError(f"unknown instance kind {self.instance_kind!r} (choose from gpu, cpu)")
        if not self.models:
            raise InputError("no model given: pass MODEL files or --name NAME=PATH")
        limits = (("max batch size", self.max_batch_size, 1), ("instances", self.instance_count, 1),
                  ("max queue delay", self.max_queue_delay_us, 0), ("threads", self.threads, 0))  # fmt: skip
        for key, value, low in limits:
            if value is not None and value < low:
                raise InputError(f"{key} must be >= {low}, got {value}")
        for name in self.models:
            if not NAME_RE.fullmatch(name):
                raise InputError(f"bad model name {name!r}: use letters, digits, '.', '_', '-'")


@dataclass(frozen=True)
class TritonModel:
    """One model written into the repository."""

    name: str
    backend: str
    max_batch_size: int
    folder: Path
    size_bytes: int


@dataclass(frozen=True)
class TritonExportResult:
    """The repository written by :func:`export_triton`."""

    output: Path
    models: tuple[TritonModel, ...]
    seconds: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        """``wrote model_repository/ (2 models, 1.2 MB) in 0.1s: painting (onnxruntime, batch 8), ...``."""
        size = human_size(sum(m.size_bytes for m in self.models))
        parts = ", ".join(
            f"{m.name} ({m.backend}, {f'batch {m.max_batch_size}' if m.max_batch_size else 'unbatched'})"
            for m in self.models
        )
        notes = "".join(f"; {n}" for n in self.notes)
        count = f"{len(self.models)} model{'' if len(self.models) == 1 else 's'}"
        head = f"wrote {self.output}/ ({count}, {size}) in {self.seconds:.1f}s"
        return f"{head}: {parts}{notes}"


def model_names(paths: list[Path], named: list[str]) -> dict[str, Path]:
    """``{name: path}`` from positional model files (named by stem) and ``NAME=PATH`` items.

    Raises:
        InputError: An item without ``=``, or two models under one name.
    """
    pairs = [(p.stem, p) for p in paths]
    for item in named:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise InputError(f"--name expects NAME=PATH, got {item!r}")
        pairs.append((key, Path(value)))
    models: dict[str, Path] = {}
    for name, path in pairs:
        if name in models:
            raise InputError(
                f"two models named {name!r} ({models[name]}, {path}); name one with --name NAME=PATH"
            )
        models[name] = path
    return models


def export_triton(options: TritonOptions) -> TritonExportResult:
    """Write a Triton model repository for ``options.models``.

    Every model is read and every config built and validated before any file is written.

    Raises:
        InputError: Bad options, duplicate names, a model a backend cannot serve (a
            TensorRT-RTX engine in Triton's tensorrt backend, an engine on CPU instances, a
            batch over an engine's profile).
        OutputExistsError: A file exists and ``force`` is false.
        ModelError: A model file without nst metadata or sidecar.
        MissingDependencyError: tritonclient[grpc] (or onnx) is not installed.
        ExportError: A config that Triton's schema rejects (a bug).
    """
    start = time.perf_counter()
    if options.output.is_file():
        raise InputError(f"cannot write a model repository into {options.output}: it is a file")
    plans: list[tuple[str, str, ModelSource, Any]] = []
    for model_name, path in options.models.items():
        source = read_source(path)
        for name, backend in variants(model_name, source, options):
            plans.append((name, backend, source, model_config(name, backend, source, options)))
    names = [name for name, *_ in plans]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"model name {duplicates[0]!r} given twice; name models with --name NAME=PATH")
    texts = {name: validated_text(config) for name, _, _, config in plans}
    writes = {name: _files(options.output / name, backend, source) for name, backend, source, _ in plans}
    targets = [p for name in names for p in (options.output / name / "config.pbtxt", *writes[name])]
    sources = [p for _, _, s, _ in plans for p in s.files.values()]
    for name in names:
        _check_versions(options.output / name)
    check_targets(targets, force=options.force, sources=sources)
    models = []
    for name, backend, _, config in plans:
        folder = options.output / name
        for target, origin in writes[name].items():
            if isinstance(origin, Path):
                with staged(target) as tmp:
                    shutil.copyfile(origin, tmp)
            else:
                write_bytes(target, origin.encode("utf-8"))
        write_bytes(folder / "config.pbtxt", texts[name].encode("utf-8"))
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        models.append(TritonModel(name, backend, int(config.max_batch_size), folder, size))
    notes = tuple(_notes(plans))
    return TritonExportResult(options.output, tuple(models), time.perf_counter() - start, notes)


def variants(name: str, source: ModelSource, options: TritonOptions) -> list[tuple[str, str]]:
    """``[(model name, Triton backend), ...]`` that ``options.backend`` asks for this model.

    Raises:
        InputError: An engine for CPU instances, or a TensorRT-RTX engine for Triton's
            tensorrt backend.
    """
    native = "onnxruntime" if source.kind == "onnx" else "tensorrt"
    if source.kind == "plan" and options.instance_kind == "cpu":
        raise InputError(
            f"{source.path.name} is a TensorRT engine: it needs GPU instances (--instance-kind gpu)"
        )
    if native == "tensorrt" and options.backend != "python" and source.library != "tensorrt":
        raise InputError(
            f"{source.path.name} was built with {source.library or 'an unknown library'}; Triton's tensorrt "
            "backend loads TensorRT engines only: use --backend python, or build with --trt tensorrt"
        )
    if options.backend == "native":
        return [(name, native)]
    if options.backend == "python":
        return [(name, "python")]
    return [(name, native), (name + PYTHON_SUFFIX, "python")]


def batched(source: ModelSource) -> bool:
    """Whether Triton may batch the model: every input and output leads with the ``batch`` axis."""
    spec = source.metadata.spec
    return all(t.shape[:1] == ("batch",) for t in (*spec.inputs, *spec.outputs))


def max_batch_size(source: ModelSource, options: TritonOptions) -> int:
    """The config's ``max_batch_size``: 0 for unbatched models.

    Raises:
        InputError: ``options.max_batch_size`` over an engine's profile.
    """
    if not batched(source):
        return 0
    limit = source.max_batch
    wanted = options.max_batch_size or limit or DEFAULT_MAX_BATCH
    if limit is not None and wanted > limit:
        raise InputError(
            f"max batch size {wanted} is over {source.path.name}'s profile (batch <= {limit}); "
            "rebuild the engine with a larger --max batch or lower --max-batch-size"
        )
    return wanted


def model_config(name: str, backend: str, source: ModelSource, options: TritonOptions) -> Any:
    """The ``ModelConfig`` protobuf message of one model.

    Raises:
        MissingDependencyError: tritonclient[grpc] is not installed.
    """
    pb: Any = require("tritonclient.grpc.model_config_pb2", "triton")
    batch = max_batch_size(source, options)
    config = pb.ModelConfig(name=name, backend=backend, max_batch_size=batch)
    spec = source.metadata.spec
    native = backend != "python"  # the python backend's Runner casts from the spec's dtypes itself
    for tensors, add in ((spec.inputs, config.input.add), (spec.outputs, config.output.add)):
        for t in tensors:
            dtype = source.io_dtypes.get(t.name, t.dtype) if native else t.dtype
            data_type = pb.DataType.Value(_data_type(dtype, t))
            tensor = add(name=t.name, data_type=data_type, dims=_dims(t, batch > 0))
            if not native and t.name in OPTIONAL_INPUTS:  # the python backend feeds its default
                tensor.optional = True
    if batch:
        config.dynamic_batching.max_queue_delay_microseconds = options.max_queue_delay_us
    kind = pb.ModelInstanceGroup.Kind.Value(INSTANCE_KINDS[options.instance_kind])
    config.instance_group.add(count=options.instance_count, kind=kind)
    gpu = options.instance_kind == "gpu"
    if backend == "onnxruntime":
        config.default_model_filename = "model.onnx"
        if gpu and options.tensorrt:
            accelerators = config.optimization.execution_accelerators.gpu_execution_accelerator
            accelerator = accelerators.add(name="tensorrt")
            precision = "INT8" if source.metadata.extra.get("nst.precision") == "int8" else "FP16"
            accelerator.parameters["precision_mode"] = precision
            accelerator.parameters["max_workspace_size_bytes"] = str(1 << 30)
    elif backend == "tensorrt":
        config.default_model_filename = "model.plan"
    else:
        providers = "auto" if source.kind == "plan" else "cuda" if gpu else "cpu"
        params = {"nst_model": next(iter(source.files)), "nst_providers": providers,
                  "nst_threads": str(options.threads)}  # fmt: skip
        for key, value in params.items():
            config.parameters[key].string_value = value
    return config


def validated_text(config: Any) -> str:
    """``config`` printed with ``text_format`` and parsed back into a fresh ``ModelConfig``.

    Raises:
        ExportError: Triton's schema rejects the text, or it does not read back equal.
    """
    from google.protobuf import text_format

    pb: Any = require("tritonclient.grpc.model_config_pb2", "triton")
    text = text_format.MessageToString(config)
    try:
        parsed = text_format.Parse(text, pb.ModelConfig())
    except text_format.ParseError as exc:
        raise ExportError(f"config of {config.name!r} is not a valid Triton ModelConfig: {exc}") from exc
    if parsed != config:
        raise ExportError(f"config of {config.name!r} does not read back as written")
    for tensor in (*parsed.input, *parsed.output):
        if not tensor.dims or any(d == 0 or d < -1 for d in tensor.dims):
            dims = list(tensor.dims)
            raise ExportError(f"config of {config.name!r}: tensor {tensor.name!r} has dims {dims}")
    return text


def _dims(tensor: TensorSpec, batched: bool) -> list[int]:
    """Triton dims: named axes as -1, the batch axis dropped when Triton batches the model."""
    shape = tensor.shape[1:] if batched else tensor.shape
    return [d if isinstance(d, int) else -1 for d in shape]


def _data_type(dtype: str, tensor: TensorSpec) -> str:
    if dtype not in DATA_TYPES:
        raise InputError(f"tensor {tensor.name!r} has dtype {dtype}, which has no Triton data type here")
    return DATA_TYPES[dtype]


def _files(folder: Path, backend: str, source: ModelSource) -> dict[Path, Path | str]:
    """``{target: source file or text}`` of a model's version folder."""
    files: dict[Path, Path | str] = {folder / "1" / n: p for n, p in source.files.items()}
    if backend == "python":
        files[folder / "1" / "model.py"] = MODEL_PY
    return files


def _check_versions(folder: Path) -> None:
    """Refuse a model folder with other versions: Triton would serve the latest, not ours."""
    if not folder.is_dir():
        return
    others = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.isdigit() and p.name != "1")
    if others:
        raise OutputExistsError(
            f"{folder} has version folder(s) {', '.join(others)}, which Triton would serve instead of 1; "
            "remove them or choose another name"
        )


def _notes(plans: list[tuple[str, str, ModelSource, Any]]) -> list[str]:
    """What a user should know about the repository: engines' TensorRT versions."""
    notes = []
    for name, backend, source, _ in plans:
        if backend == "tensorrt":
            notes.append(f"{name} needs Triton with TensorRT {source.library_version} (the engine's builder)")
    return notes
