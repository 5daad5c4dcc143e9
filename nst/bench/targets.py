"""The targets ``nst bench`` can time, each prepared for one (size, batch) case.

Names are ``<runtime>[-<device>][-<precision>]``:

========================== ========= ==================================================
target                     precision  what runs
========================== ========= ==================================================
``ort-cpu``                fp32       ONNX Runtime, CPU EP
``torch-eager``            fp32       the same architecture in PyTorch eager, CPU
``ort-cuda``               fp32       ONNX Runtime CUDA EP, IO binding + CUDA graph
``ort-cuda-fp16``          fp16       the same on the FP16 model (``nst.calibration.fp16``)
``ort-trt-fp16``           fp16       ONNX Runtime TensorRT EP (FP16, engine cache)
``trt``                    engine's   an ``nst build-engine`` plan (``--engine``), CUDA graph
``torch-cuda``             fp32       PyTorch eager on CUDA
``torch-cuda-fp16``        fp16       PyTorch eager on CUDA, ``half()``
``torch-compile-cuda-fp16`` fp16      ``torch.compile`` (inductor) of the FP16 CUDA net
========================== ========= ==================================================

GPU cases time device-resident work: inputs are staged on the device once, each timed run
launches the network and waits for it (outputs stay on the device), so host transfers are
excluded for every GPU target alike. The torch baselines rebuild the architecture from the
model's metadata with random weights (same layers, same shapes, same work).
"""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nst.contract.metadata import ModelMetadata
from nst.errors import InputError, MissingDependencyError, did_you_mean
from nst.runtime.base import Runner
from nst.runtime.registry import open_runner

CPU_TARGETS = ("ort-cpu", "torch-eager")
GPU_TARGETS = ("ort-cuda", "ort-cuda-fp16", "ort-trt-fp16", "trt", "torch-cuda", "torch-cuda-fp16",
                "torch-compile-cuda-fp16")  # fmt: skip
TARGETS = CPU_TARGETS + GPU_TARGETS


@dataclass
class Prepared:
    """A target ready for one case: ``run()`` does one timed inference; ``close()`` frees it."""

    precision: str
    run: Callable[[], object]
    close: Callable[[], None] = lambda: None


@dataclass
class BenchContext:
    """What every target may need: the model, its CPU runner (metadata), an engine, a temp dir."""

    model: Path
    runner: Runner
    engine: Path | None = None
    device_id: int = 0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="nst-bench-")))
    _fp16: Path | None = None

    def fp16_model(self) -> Path:
        """The model converted to FP16 once per run (norms kept FP32, as ``nst calibrate``)."""
        if self._fp16 is None:
            from nst.calibration.fp16 import convert_fp16

            self._fp16 = self.workdir / f"{self.model.stem}.fp16.onnx"
            convert_fp16(self.model, self._fp16)
        return self._fp16


def check_target_names(targets: list[str], engine: Path | None) -> list[str]:
    """Validate target names (with a hint) and that ``trt`` comes with an engine and vice versa."""
    for name in targets:
        if name not in TARGETS:
            raise InputError(
                f"unknown bench target {name!r}{did_you_mean(name, TARGETS)}; known: {list(TARGETS)}"
            )
    if "trt" in targets and engine is None:
        raise InputError("target trt needs --engine MODEL.plan (from nst build-engine)")
    if engine is not None and "trt" not in targets:
        raise InputError("--engine is only used by --target trt; add it or drop --engine")
    if len(set(targets)) != len(targets):
        raise InputError(f"target listed twice: {targets}")
    return targets


def preflight(targets: list[str]) -> None:
    """Raise one :class:`MissingDependencyError` naming every target this machine cannot run."""
    missing = [f"{name}: {why}" for name in targets if (why := unavailable(name))]
    if missing:
        raise MissingDependencyError("cannot run " + "; ".join(missing))


def unavailable(name: str) -> str | None:
    """Why target ``name`` cannot run here, or None when it can (as far as can be told cheaply)."""
    import importlib.util

    if name.startswith("ort-cuda") or name == "ort-trt-fp16":
        import onnxruntime as ort

        wanted = "TensorrtExecutionProvider" if name == "ort-trt-fp16" else "CUDAExecutionProvider"
        if wanted not in ort.get_available_providers():
            return f"this onnxruntime has no {wanted} (install onnxruntime-gpu: pip install 'nst[gpu]')"
    elif name == "trt":
        if importlib.util.find_spec("tensorrt") is None:
            return "TensorRT is not installed (pip install 'nst[trt]')"
        if importlib.util.find_spec("cuda") is None:
            return "cuda-python is not installed (pip install 'nst[gpu]')"
    elif name.startswith("torch"):
        if importlib.util.find_spec("torch") is None:
            return "torch is not installed (pip install 'nst[train]')"
        if "cuda" in name:
            import torch

            if not torch.cuda.is_available():
                return "this torch build sees no CUDA device"
        if "compile" in name and importlib.util.find_spec("triton") is None:
            return "torch.compile on CUDA needs triton (pip install triton)"
    return None


def prepare(name: str, ctx: BenchContext, feed: dict[str, np.ndarray]) -> Prepared:
    """Set up target ``name`` for ``feed`` (the first entry is the image batch)."""
    return FACTORIES[name](ctx, feed)


def _ort_cpu(ctx: BenchContext, feed: dict[str, np.ndarray]) -> Prepared:
    return Prepared("fp32", functools.partial(ctx.runner.infer, feed))


def _ort_gpu(ctx: BenchContext, feed: dict[str, np.ndarray], *, fp16: bool, tensorrt: bool) -> Prepared:
    from nst.runtime.onnxrt.gpu import OrtGpuOptions

    model = ctx.fp16_model() if fp16 and not tensorrt else ctx.model
    providers = ["tensorrt", "cuda"] if tensorrt else ["cuda"]
    cache = ctx.workdir / "trt-ep-cache" if tensorrt else None
    options = OrtGpuOptions(device_id=ctx.device_id, io_binding=True, cuda_graph=not tensorrt,
                            trt_fp16=tensorrt, trt_cache_dir=cache)  # fmt: skip
    runner = open_runner(model, providers=providers, gpu=options)
    try:
        run = runner.device_loop(feed)
    except BaseException:
        runner.close()
        raise
    return Prepared("fp16" if fp16 or tensorrt else "fp32", run, runner.close)


def _trt(ctx: BenchContext, feed: dict[str, np.ndarray]) -> Prepared:
    if ctx.engine is None:
        raise InputError("target trt needs --engine MODEL.plan (from nst build-engine)")
    runner = open_runner(ctx.engine, device=ctx.device_id, cuda_graph=True)
    try:
        run = runner.device_loop(feed)
    except BaseException:
        runner.close()
        raise
    return Prepared(runner.precision, run, runner.close)


def torch_net(ctx: BenchContext) -> Any:
    """The exported model's architecture in PyTorch (random weights), eval mode, on CPU."""
    return net_from_metadata(ctx.runner.metadata)


def net_from_metadata(metadata: ModelMetadata) -> Any:
    """The architecture a model's metadata names, in PyTorch (random weights), eval mode, on CPU."""
    from nst.errors import require

    require("torch", "train")
    from nst.train.models import build_model

    return build_model(metadata.family, json.loads(metadata.extra.get("nst.model_config", "{}"))).eval()


def _torch(
    ctx: BenchContext, feed: dict[str, np.ndarray], *, device: str, fp16: bool, compile: bool
) -> Prepared:
    import torch

    dtype = torch.float16 if fp16 else torch.float32
    net = torch_net(ctx).to(device=f"{device}:{ctx.device_id}" if device == "cuda" else device, dtype=dtype)
    target = next(net.parameters()).device
    inputs = [torch.from_numpy(a).to(target, dtype) for a in feed.values()]
    fn = torch.compile(net, mode="max-autotune-no-cudagraphs") if compile else net
    gpu = device == "cuda"

    def run() -> object:
        with torch.inference_mode():
            out = fn(*inputs)
        if gpu:
            torch.cuda.synchronize(target)  # the bench's device, not the current one
        return out

    def close() -> None:
        inputs.clear()
        if gpu:
            torch.cuda.synchronize(target)
            torch.cuda.empty_cache()  # give the cached blocks back before the next case
        if compile:
            torch._dynamo.reset()  # a fresh compile per case, no recompile limit across cases

    return Prepared("fp16" if fp16 else "fp32", run, close)


FACTORIES: dict[str, Callable[[BenchContext, dict[str, np.ndarray]], Prepared]] = {
    "ort-cpu": _ort_cpu,
    "torch-eager": functools.partial(_torch, device="cpu", fp16=False, compile=False),
    "ort-cuda": functools.partial(_ort_gpu, fp16=False, tensorrt=False),
    "ort-cuda-fp16": functools.partial(_ort_gpu, fp16=True, tensorrt=False),
    "ort-trt-fp16": functools.partial(_ort_gpu, fp16=True, tensorrt=True),
    "trt": _trt,
    "torch-cuda": functools.partial(_torch, device="cuda", fp16=False, compile=False),
    "torch-cuda-fp16": functools.partial(_torch, device="cuda", fp16=True, compile=False),
    "torch-compile-cuda-fp16": functools.partial(_torch, device="cuda", fp16=True, compile=True),
}


def gpu_memory_used_mb(device_id: int = 0) -> float | None:
    """Device memory in use (total - free) in MiB via cuda-python or torch; None without a GPU."""
    try:
        from nst.runtime.trt.cuda import _import_cudart

        cudart = _import_cudart()
        cudart.cudaSetDevice(device_id)
        err, free, total = cudart.cudaMemGetInfo()
        if err == cudart.cudaError_t.cudaSuccess:
            return (total - free) / 2**20
    except (MissingDependencyError, AttributeError, RuntimeError):
        pass
    try:
        import torch

        if torch.cuda.is_available():
            free, total = torch.cuda.mem_get_info(device_id)
            return (total - free) / 2**20
    except ImportError:
        pass
    return None


def gpu_name(device_id: int = 0) -> str | None:
    """The GPU's name, or None when no CUDA runtime/device is reachable."""
    from nst.runtime.trt.cuda import detect_gpu

    gpu = detect_gpu("cuda-python", device_id)
    if gpu is not None:
        return gpu.name
    try:
        import torch

        return torch.cuda.get_device_name(device_id) if torch.cuda.is_available() else None
    except ImportError:
        return None
