"""The one way to open a model: ``open_runner(path)`` picks the inference backend by file kind.

Every consumer (``Stylizer``, ``nst synth``, ``nst upscale``, ``nst info``, ``nst bench``,
serving, video) opens models here, so a TensorRT engine works wherever an ONNX model does.
A backend is a package under ``nst.runtime`` (``onnxrt/``, ``trt/``) plus one
:class:`Backend` entry in :data:`BACKENDS`; adding one means adding a package and a line,
not editing callers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nst.contract.metadata import ModelMetadata
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


def _describe_onnx(path: Path) -> tuple[ModelMetadata, dict[str, Any]]:
    from nst.runtime.onnxrt.runner import OrtRunner

    with OrtRunner(path, providers="cpu") as runner:
        return runner.metadata, {}


def _describe_engine(path: Path) -> tuple[ModelMetadata, dict[str, Any]]:
    from nst.runtime.trt.sidecar import describe_engine

    return describe_engine(path)


@dataclass(frozen=True)
class Backend:
    """An inference backend: the file kinds it opens, how to open and how to describe one.

    Attributes:
        name: ``onnxruntime`` or ``tensorrt``.
        suffixes: Lower-case file suffixes it takes.
        open: ``fn(path, providers, options) -> Runner``.
        describe: ``fn(path) -> (metadata, backend details)`` without running the model
            (an engine is described from its sidecar, with no GPU or TensorRT).
    """

    name: str
    suffixes: tuple[str, ...]
    open: Callable[[Path, str | Sequence[str], dict[str, Any]], Runner]
    describe: Callable[[Path], tuple[ModelMetadata, dict[str, Any]]]


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


def is_engine(path: str | Path) -> bool:
    """Whether ``path`` names a TensorRT engine (by suffix)."""
    return Path(path).suffix.lower() in backend_by_name("tensorrt").suffixes


def backend_by_name(name: str) -> Backend:
    """The backend called ``name`` (``onnxruntime`` or ``tensorrt``)."""
    for backend in BACKENDS:
        if backend.name == name:
            return backend
    raise InputError(f"unknown backend {name!r} (choose from {', '.join(b.name for b in BACKENDS)})")


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


def describe_model(path: str | Path) -> tuple[ModelMetadata, dict[str, Any]]:
    """A model's metadata and its backend's details (an engine's build record), for ``nst info``.

    Raises:
        ModelError: Missing, unreadable or without nst metadata.
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
