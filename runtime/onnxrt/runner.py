"""OrtRunner: ONNX Runtime backend (CPU; CUDA EP when onnxruntime-gpu and a GPU are present)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nst.contract.metadata import ModelMetadata
from nst.errors import InputError, MissingDependencyError, ModelError, NstError
from nst.runtime.base import Feed, Runner
from nst.runtime.onnxrt.gpu import IoBinder, OrtGpuOptions, output_shapes, provider_list, session_dtypes

PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}


def resolve_providers(requested: str | Sequence[str] = "auto") -> list[str]:
    """Turn ``auto``/``cpu``/``cuda``/``tensorrt`` (or full EP names) into an ORT provider list.

    ``auto`` takes CUDA first when this onnxruntime build has it, then CPU. Asking for a
    provider the installed build lacks is an error (never a silent CPU fallback).
    """
    import onnxruntime as ort

    available = ort.get_available_providers()
    if requested == "auto":
        return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    names = [requested] if isinstance(requested, str) else list(requested)
    providers = [PROVIDER_ALIASES.get(n.lower(), n) for n in names]
    for p in providers:
        if p not in available:
            raise InputError(
                f"ONNX Runtime provider {p} is not available (available: {available}); "
                "for CUDA install onnxruntime-gpu: pip install 'nst[gpu]'"
            )
    if "CPUExecutionProvider" not in providers:
        providers.append("CPUExecutionProvider")
    return providers


def session_from_onnx(path: str | Path, providers: Sequence[Any], threads: int = 0) -> ort.InferenceSession:  # type: ignore[name-defined] # noqa: F821
    """Create an InferenceSession, turning ORT's errors into :class:`ModelError`."""
    import onnxruntime as ort

    p = Path(path)
    if not p.is_file():
        raise ModelError(f"model file not found: {p}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(p), sess_options=options, providers=providers)
    except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... types
        raise ModelError(f"cannot load model {p}: {str(exc).splitlines()[0][:300]}") from exc


def session_metadata(session: Any, props: dict[str, str], path: Path) -> ModelMetadata:
    """The nst metadata in ``props``, checked against the session's graph inputs.

    Raises:
        ModelError: No or malformed nst metadata, or graph inputs other than the declared ones.
    """
    metadata = ModelMetadata.from_props(props, source=str(path))
    graph_inputs = [i.name for i in session.get_inputs()]
    declared = [t.name for t in metadata.spec.inputs]
    if graph_inputs != declared:
        raise ModelError(f"{path}: graph inputs {graph_inputs} do not match metadata {declared}")
    return metadata


class OrtRunner(Runner):
    """Runs an nst ONNX model with ONNX Runtime.

    ``gpu`` holds the CUDA/TensorRT EP options, IO binding and CUDA graphs (see
    :class:`~nst.runtime.onnxrt.gpu.OrtGpuOptions`); FP16-I/O models take and return float32
    (cast to the session's input dtype here).
    """

    def __init__(
        self, path: str | Path, *, providers: str | Sequence[str] = "auto", threads: int = 0,
        gpu: OrtGpuOptions | None = None,
    ) -> None:  # fmt: skip
        self.path = Path(path)
        self.gpu = gpu or OrtGpuOptions()
        resolved = resolve_providers(providers)
        self.gpu.check_providers(resolved)
        self.session = session_from_onnx(self.path, provider_list(resolved, self.gpu), threads)
        used = list(self.session.get_providers())
        if used[:1] != resolved[:1]:  # ORT falls back quietly when an EP fails to start
            raise MissingDependencyError(
                f"ONNX Runtime could not start {resolved[0]} for {self.path.name} (running on {used}); "
                "check the CUDA/cuDNN/TensorRT libraries ONNX Runtime needs"
            )
        props = dict(self.session.get_modelmeta().custom_metadata_map)
        super().__init__(session_metadata(self.session, props, self.path))
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.input_dtypes = session_dtypes(self.session.get_inputs())
        shapes = functools.partial(output_shapes, self.spec)
        self._binder = IoBinder(self.session, self.gpu, shapes) if self.gpu.io_binding else None

    def device_loop(self, feed: Feed) -> Callable[[], None]:
        """For benchmarks: bind ``feed`` once; the closure re-runs the session on the bound
        buffers and waits for the outputs, without host copies (a CUDA graph replays if enabled).

        Raises:
            InputError: The runner was made without ``OrtGpuOptions(io_binding=True)``.
        """
        if self._binder is None:
            raise InputError("device_loop needs OrtRunner(..., gpu=OrtGpuOptions(io_binding=True))")
        self.infer(feed)  # checks the feed, binds buffers, captures the CUDA graph
        binder = self._binder

        def run() -> None:
            self.session.run_with_iobinding(binder.binding)
            binder.binding.synchronize_outputs()

        return run

    @property
    def providers(self) -> list[str]:
        """Providers the session actually uses."""
        return list(self.session.get_providers())

    @property
    def label(self) -> str:
        return ",".join(self.providers)

    def _infer(self, feed: Feed) -> Feed:
        feed = {n: a.astype(self.input_dtypes[n], copy=False) for n, a in feed.items()}  # FP16 models
        try:
            if self._binder is not None:
                bound = self._binder.run(feed)
                outputs = [bound[n] for n in self.output_names]
            else:
                outputs = self.session.run(self.output_names, feed)
        except NstError:
            raise
        except Exception as exc:  # ORT RuntimeException etc.
            raise ModelError(
                f"ONNX Runtime failed on {self.path.name}: {str(exc).splitlines()[0][:300]}"
            ) from exc
        dtypes = {t.name: np.dtype(t.dtype) for t in self.spec.outputs}
        pairs = zip(self.output_names, (np.asarray(o) for o in outputs), strict=True)
        return {n: a.astype(dtypes.get(n, a.dtype), copy=False) for n, a in pairs}
