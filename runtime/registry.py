"""Open a model file by its kind: an ONNX model (ONNX Runtime) or a TensorRT engine (.plan).

``nst stylize`` and ``nst info`` take either; an engine's metadata comes from its sidecar
(``model.plan.json``), so ``nst info`` reads it without TensorRT or a GPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nst.contract.metadata import ModelMetadata
from nst.errors import InputError
from nst.runtime.base import Runner

ENGINE_SUFFIXES = (".plan", ".engine")
MODEL_SUFFIXES = (".onnx", *ENGINE_SUFFIXES)


def is_engine(path: str | Path) -> bool:
    """Whether ``path`` names a TensorRT engine (by suffix)."""
    return Path(path).suffix.lower() in ENGINE_SUFFIXES


def open_runner(path: str | Path, *, providers: str | Sequence[str] = "auto") -> Runner:
    """An :class:`OrtRunner` for an ONNX model, a :class:`TrtRunner` for an engine.

    Raises:
        InputError: ``providers`` other than ``auto`` for an engine (they are ONNX Runtime's).
        ModelError, EngineCompatError, MissingDependencyError: From the runner.
    """
    if is_engine(path):
        if providers != "auto":
            raise InputError(f"--providers applies to ONNX models; {Path(path).name} is a TensorRT engine")
        from nst.runtime.trt.runner import TrtRunner

        return TrtRunner(path)
    from nst.runtime.onnxrt.runner import OrtRunner

    return OrtRunner(path, providers=providers)


def describe_engine(path: str | Path) -> tuple[ModelMetadata, dict[str, Any]]:
    """An engine's model metadata and build record, from its sidecar alone.

    Raises:
        ModelError: The engine or its sidecar is missing or malformed.
    """
    from nst.runtime.trt.sidecar import read_engine_record

    sidecar, meta = read_engine_record(path)
    engine = {
        "tensorrt": sidecar.trt_version, "gpu": sidecar.gpu_name,
        "compute_capability": sidecar.compute_capability, "precisions": list(sidecar.precisions),
        "profiles": [p.describe() for p in sidecar.profiles],
        "version_compatible": sidecar.version_compatible, "onnx_sha256": sidecar.onnx_sha256,
        "built_by": sidecar.build_command,
    }  # fmt: skip
    return meta, engine
