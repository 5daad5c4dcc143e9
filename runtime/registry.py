"""The one way to open a model: ``open_runner(path)`` picks the inference backend by file kind.

Every consumer (``Stylizer``, ``nst synth``, ``nst upscale``, ``nst info``, ``nst bench``,
serving, video) opens models here, so a TensorRT engine works wherever an ONNX model does.
A backend is a package under ``nst.runtime`` (``onnxrt/``, ``trt/``) plus one
:class:`Backend` entry in :data:`BACKENDS`; adding one means adding a package and a line,
not editing callers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nst.contract.metadata import PREFIX, ModelMetadata
from nst.errors import InputError
from nst.runtime.base import Runner


def _open_onnx(path: Path, providers: str | Sequence[str], options: dict[str, Any]) -> Runner:
    from nst.runtime.onnxrt.runner import OrtRunner

    return _construct(OrtRunner, path, providers=providers, **options)


def _open_engine(path: Path, providers: str | Sequence[str], options: dict[str, Any]) -> Runner:
    from nst.runtime.trt.runner import TrtRunner

    if providers != "auto":
        raise InputError(f"--providers applies to ONNX models; {path.name} is a TensorRT engine")
    return _construct(TrtRunner, path, **options)


@dataclass(frozen=True)
class GraphTensor:
    """A graph input or output as the backend sees it.

    Attributes:
        name: Tensor name.
        dtype: numpy-style name (``float32``, ``int64``, ...), or the backend's own when unknown.
        shape: Fixed sizes as ints, named dynamic axes as strings, unnamed ones as None.
    """

    name: str
    dtype: str
    shape: tuple[int | str | None, ...]


@dataclass(frozen=True)
class ModelDescription:
    """What ``nst info`` shows about a model file, read without running it.

    Attributes:
        path: The file.
        metadata: Its nst metadata, or None for an ONNX file nst did not export.
        inputs: Graph inputs, in order.
        outputs: Graph outputs, in order.
        opset: The default-domain ONNX opset (None when unknown, e.g. for an engine).
        producer: ``name version`` of the tool that wrote the file ("" when unknown).
        details: The backend's extra details (an engine's build record; ``{}`` for ONNX).
    """

    path: Path
    metadata: ModelMetadata | None
    inputs: tuple[GraphTensor, ...]
    outputs: tuple[GraphTensor, ...]
    opset: int | None = None
    producer: str = ""
    details: dict[str, Any] = field(default_factory=dict)


# ONNX Runtime's type strings -> numpy dtype names
_ORT_DTYPES = {
    "float": "float32", "float16": "float16", "double": "float64", "bfloat16": "bfloat16",
    "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64", "uint8": "uint8",
    "uint16": "uint16", "uint32": "uint32", "uint64": "uint64", "bool": "bool", "string": "str",
}  # fmt: skip


def _graph_tensor(arg: Any) -> GraphTensor:
    """An ORT ``NodeArg`` (``tensor(float)``, shape with ints/str/None) as a GraphTensor."""
    kind = str(arg.type)
    inner = kind.removeprefix("tensor(").removesuffix(")") if kind.startswith("tensor(") else kind
    shape = tuple(d if isinstance(d, int | str) else None for d in (arg.shape or ()))
    return GraphTensor(arg.name, _ORT_DTYPES.get(inner, kind), shape)


def _describe_onnx(path: Path) -> ModelDescription:
    from nst.runtime.onnxrt.runner import session_from_onnx, session_metadata

    session = session_from_onnx(path, ["CPUExecutionProvider"])
    meta = session.get_modelmeta()
    props = dict(meta.custom_metadata_map)
    # nst keys present: they must parse and match the graph, as when the model is run
    metadata = session_metadata(session, props, path) if any(k.startswith(PREFIX) for k in props) else None
    header = onnx_header(path)
    producer = " ".join(str(header.get(k) or "") for k in ("producer_name", "producer_version")).strip()
    return ModelDescription(
        path, metadata, tuple(_graph_tensor(a) for a in session.get_inputs()),
        tuple(_graph_tensor(a) for a in session.get_outputs()), header.get("opset"),
        producer or str(meta.producer_name or ""),
    )  # fmt: skip


def _describe_engine(path: Path) -> ModelDescription:
    from nst.runtime.trt.sidecar import describe_engine

    metadata, details = describe_engine(path)

    def tensors(specs: Sequence[Any]) -> tuple[GraphTensor, ...]:
        return tuple(GraphTensor(t.name, t.dtype, tuple(t.shape)) for t in specs)

    spec = metadata.spec
    return ModelDescription(path, metadata, tensors(spec.inputs), tensors(spec.outputs), None, "", details)


@dataclass(frozen=True)
class Backend:
    """An inference backend: the file kinds it opens, how to open and how to describe one.

    Attributes:
        name: ``onnxruntime`` or ``tensorrt``.
        suffixes: Lower-case file suffixes it takes.
        open: ``fn(path, providers, options) -> Runner``.
        describe: ``fn(path) -> ModelDescription`` without running the model (an engine is
            described from its sidecar, with no GPU or TensorRT).
    """

    name: str
    suffixes: tuple[str, ...]
    open: Callable[[Path, str | Sequence[str], dict[str, Any]], Runner]
    describe: Callable[[Path], ModelDescription]


BACKENDS = (
    Backend("onnxruntime", (".onnx",), _open_onnx, _describe_onnx),
    Backend("tensorrt", (".plan", ".engine"), _open_engine, _describe_engine),
)
MODEL_SUFFIXES = tuple(s for b in BACKENDS for s in b.suffixes)


def backend_for(path: str | Path) -> Backend:
    """The backend that opens ``path``, by its suffix; ONNX Runtime for any other suffix (it
    reads the file and says precisely why it is not a model)."""
    suffix = Path(path).suffix.lower()
    for backend in BACKENDS:
        if suffix in backend.suffixes:
            return backend
    return BACKENDS[0]


def open_runner(path: str | Path, *, providers: str | Sequence[str] = "auto", **options: Any) -> Runner:
    """A :class:`Runner` for a model or engine file.

    Args:
        path: ``.onnx`` (ONNX Runtime) or ``.plan``/``.engine`` (TensorRT, with its sidecar).
        providers: ONNX Runtime providers (``auto``, ``cpu``, ``cuda``, ``tensorrt``); only
            ``auto`` for engines.
        **options: Backend options, passed to the runner (e.g. ``threads``, ``gpu`` for ONNX
            Runtime; ``streams``, ``cuda_graph`` for TensorRT).

    Raises:
        InputError: ``providers`` for an engine, or an option this backend does not take.
        ModelError, EngineCompatError, MissingDependencyError: From the runner.
    """
    p = Path(path)
    return backend_for(p).open(p, providers, dict(options))


def describe_model(path: str | Path) -> ModelDescription:
    """A model's graph inputs and outputs, opset, producer, nst metadata (None for an ONNX file
    nst did not export) and its backend's details (an engine's build record), for ``nst info``.

    Raises:
        ModelError: Missing or unreadable, malformed nst metadata, or (for an engine) no sidecar.
    """
    p = Path(path)
    return backend_for(p).describe(p)


def _construct(cls: type[Runner], path: Path, **kwargs: Any) -> Runner:
    """``cls(path, **kwargs)``, with an unknown option as a one-line :class:`InputError`."""
    accepted = inspect.signature(cls).parameters
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        options = [k for k in accepted if k != "path"]
        raise InputError(f"{cls.__name__} takes no option(s) {unknown} (options: {options})")
    return cls(path, **kwargs)


def onnx_header(path: str | Path) -> dict[str, Any]:
    """The top-level fields of an ONNX ``ModelProto`` that ONNX Runtime does not expose: ``opset``
    (default domain), ``ir_version``, ``producer_name``, ``producer_version``.

    Reads the protobuf wire format directly (the graph is skipped by its length), so the runtime
    needs no ``onnx`` package. A file that does not parse gives ``{}``.
    """
    import mmap

    out: dict[str, Any] = {}
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        try:
            for number, value in _fields(data, 0, len(data)):
                if number == 1 and isinstance(value, int):
                    out["ir_version"] = value
                elif number in (2, 3) and isinstance(value, bytes):
                    key = "producer_name" if number == 2 else "producer_version"
                    out[key] = value.decode("utf-8", "replace")
                elif number == 8 and isinstance(value, bytes):
                    opset = dict(_fields(value, 0, len(value)))  # 1: domain, 2: version
                    if not opset.get(1):
                        out["opset"] = opset.get(2)
        except (IndexError, ValueError):
            return {}
    return out


def _fields(data: Any, pos: int, end: int, skip: tuple[int, ...] = (7,)) -> Iterator[tuple[int, Any]]:
    """(field number, int or bytes) of a protobuf message; fields in ``skip`` are not copied."""
    while pos < end:
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > end:
                raise ValueError("truncated field")
            if number not in skip:
                yield number, bytes(data[pos : pos + length])
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _varint(data: Any, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
