"""Which GPUs an engine is built for: named compute capabilities, or the GPU at hand.

TensorRT 10/11 build for the GPU they run on: the engine's compute capability is that GPU's,
so a build needs one. TensorRT-RTX builds for the compute capabilities the builder config
names (``--compute-capability``, no GPU needed) or, without any, for the GPU at hand
(``ComputeCapability.CURRENT``). With neither a GPU nor a target there is nothing to build for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nst.errors import EngineBuildError, InputError
from nst.runtime.trt.config import EngineConfig
from nst.runtime.trt.cuda import CudaBinding, GpuInfo, detect_gpu
from nst.runtime.trt.libs import TARGETS, TrtLib

VALID = ", ".join(t.replace(".", "") for t in TARGETS)


@dataclass(frozen=True)
class Targets:
    """What a build is for.

    Attributes:
        compute_capabilities: ``"8.6"`` etc., recorded in the sidecar.
        current: Build for the GPU at hand (TensorRT always; TensorRT-RTX without targets).
        gpu: That GPU, when there is one.
    """

    compute_capabilities: tuple[str, ...]
    current: bool
    gpu: GpuInfo | None = None


def resolve_targets(
    lib: TrtLib, config: EngineConfig, cuda_binding: str | CudaBinding = "cuda-python"
) -> Targets:
    """The targets of a build with ``lib``; the GPU is probed only when one is needed.

    Raises:
        InputError: ``--compute-capability`` with TensorRT 10/11; TensorRT-RTX with neither a
            target nor a GPU, or on a GPU it does not support.
        EngineBuildError: TensorRT 10/11 and no GPU to build on.
    """
    if not lib.has_targets:
        if config.compute_capabilities:
            raise InputError(
                f"--compute-capability needs TensorRT-RTX (--trt rtx); {lib.label} builds for the GPU it "
                "runs on: build on the target GPU (or with its hardware-compatibility mode)"
            )
        gpu = detect_gpu(cuda_binding)
        if gpu is None:
            raise EngineBuildError(
                f"{lib.label} builds engines on the GPU they will run on and found no CUDA GPU here; build "
                "on the target GPU, or with TensorRT-RTX: pip install 'nst[trt-rtx]' and "
                "--trt rtx --compute-capability 86"
            )
        return Targets((gpu.compute_capability,), current=True, gpu=gpu)
    if config.compute_capabilities:
        return Targets(config.compute_capabilities, current=False)
    gpu = detect_gpu(cuda_binding)
    if gpu is None:
        raise InputError(
            f"no CUDA GPU here to build for: name the target GPUs with --compute-capability (valid: {VALID})"
        )
    if gpu.compute_capability not in TARGETS:
        raise InputError(
            f"{lib.label} does not support {gpu.name} (compute capability {gpu.compute_capability}); "
            f"it targets {VALID}: use TensorRT (--trt tensorrt) on this GPU"
        )
    return Targets((gpu.compute_capability,), current=True, gpu=gpu)


def set_targets(lib: TrtLib, bconfig: Any, targets: Targets) -> None:
    """Name the targets in a TensorRT-RTX builder config (TensorRT: nothing to set)."""
    if not lib.has_targets:
        return
    chosen = [lib.module.ComputeCapability.CURRENT] if targets.current else [
        lib.target(cc) for cc in targets.compute_capabilities
    ]  # fmt: skip
    bconfig.num_compute_capabilities = len(chosen)
    for i, cc in enumerate(chosen):
        bconfig.set_compute_capability(cc, i)
