"""The TensorRT 10 calls behind :func:`nst.runtime.trt.build.engine_from_onnx`.

Every function takes the ``tensorrt`` module as ``trt`` (imported by the caller), so this
module imports no TensorRT and tests drive it with a recording fake. Written against the
documented TensorRT 10 Python API; unverified on hardware here (docs/GPU.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nst.contract.profiles import Profile
from nst.errors import EngineBuildError, InputError, ModelError
from nst.runtime.trt.build import (
    FP32_LAYER_TYPES,
    FP32_PLUGIN_HINTS,
    LOG,
    EngineConfig,
    ModelInfo,
    Progress,
    input_shapes,
)
from nst.runtime.trt.cuda import CudaBackend, make_backend
from nst.runtime.trt.sidecar import write_atomic


def make_logger(trt: Any) -> Any:
    """A ``trt.ILogger`` that forwards to ``logging.getLogger("nst.trt")`` and keeps errors."""
    severity = trt.ILogger.Severity
    levels = {severity.INTERNAL_ERROR: logging.CRITICAL, severity.ERROR: logging.ERROR,
              severity.WARNING: logging.WARNING, severity.INFO: logging.INFO,
              severity.VERBOSE: logging.DEBUG}  # fmt: skip

    class NstTrtLogger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, sev: Any, msg: str) -> None:
            level = levels.get(sev, logging.INFO)
            if level >= logging.ERROR:
                self.errors.append(msg)
            if LOG.isEnabledFor(level):
                LOG.log(level, "%s", msg)

    return NstTrtLogger()


def parse_network(trt: Any, network: Any, logger: Any, path: Path) -> Any:
    """Parse ``path`` into ``network``; returns the parser (it owns the weights).

    Raises:
        EngineBuildError: With the parser's first errors.
    """
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise EngineBuildError(f"TensorRT's ONNX parser rejected {path.name}: {'; '.join(errors[:3])}")
    return parser


@dataclass
class BuildSetup:
    """What :func:`configure` did, and objects that must outlive the build."""

    fp32_layers: list[str] = field(default_factory=list)
    keep_alive: list[Any] = field(default_factory=list)

    def release(self) -> None:
        for obj in self.keep_alive:
            if hasattr(obj, "release"):
                obj.release()


def configure(
    trt: Any, builder: Any, bconfig: Any, network: Any, config: EngineConfig, info: ModelInfo,
    profiles: tuple[Profile, ...], progress: Progress | None, cuda_backend: str | CudaBackend,
) -> BuildSetup:  # fmt: skip
    """Apply ``config`` to the builder config: memory, profiles, precisions, caches, progress."""
    setup = BuildSetup()
    if config.workspace_mb is not None:
        bconfig.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, config.workspace_mb << 20)
    if config.optimization_level is not None:
        bconfig.builder_optimization_level = config.optimization_level
    trt_profiles = add_profiles(builder, bconfig, network, info, profiles)
    if config.fp16:
        bconfig.set_flag(trt.BuilderFlag.FP16)
    if config.int8:
        bconfig.set_flag(trt.BuilderFlag.INT8)
        if not info.qdq:  # implicit quantisation: scales from an entropy calibrator
            calibrator = make_calibrator(trt, config, profiles[0], make_backend(cuda_backend))
            bconfig.int8_calibrator = calibrator
            bconfig.set_calibration_profile(trt_profiles[0])
            setup.keep_alive.append(calibrator)
    if (config.fp16 or config.int8) and config.fp32_norms:
        setup.fp32_layers = keep_fp32(trt, network)
        if setup.fp32_layers:  # without this flag TensorRT treats layer precisions as hints
            bconfig.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
    if config.version_compatible:
        bconfig.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
        if config.exclude_lean_runtime:
            bconfig.set_flag(trt.BuilderFlag.EXCLUDE_LEAN_RUNTIME)
    if config.timing_cache is not None:  # TensorRT: the cache must outlive the build
        setup.keep_alive.append(load_timing_cache(bconfig, Path(config.timing_cache)))
    if progress is not None and hasattr(trt, "IProgressMonitor"):
        monitor = make_progress_monitor(trt, progress)
        bconfig.progress_monitor = monitor
        setup.keep_alive.append(monitor)
    return setup


def add_profiles(
    builder: Any, bconfig: Any, network: Any, info: ModelInfo, profiles: tuple[Profile, ...]
) -> list[Any]:
    """One ``IOptimizationProfile`` per profile, every network input's min/opt/max set.

    Raises:
        ModelError: The parsed network's inputs are not the ones the metadata declares.
    """
    spec = info.metadata.spec
    names = [network.get_input(i).name for i in range(network.num_inputs)]
    declared = [t.name for t in spec.inputs]
    if names != declared:
        raise ModelError(f"{info.path.name}: network inputs {names} do not match metadata {declared}")
    out = []
    for p in profiles:
        profile = builder.create_optimization_profile()
        for name, (lo, opt, hi) in input_shapes(spec, p).items():
            profile.set_shape(name, lo, opt, hi)
        bconfig.add_optimization_profile(profile)
        out.append(profile)
    return out


def keep_fp32(trt: Any, network: Any) -> list[str]:
    """Pin normalisation layers (and their outputs) to FP32; returns their names."""
    kinds = {getattr(trt.LayerType, n) for n in FP32_LAYER_TYPES if hasattr(trt.LayerType, n)}
    plugins = {
        getattr(trt.LayerType, n) for n in ("PLUGIN", "PLUGIN_V2", "PLUGIN_V3") if hasattr(trt.LayerType, n)
    }
    names = []
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        plugin_norm = layer.type in plugins and any(
            h.lower() in layer.name.lower() for h in FP32_PLUGIN_HINTS
        )
        if layer.type not in kinds and not plugin_norm:
            continue
        layer.precision = trt.float32
        for j in range(layer.num_outputs):
            layer.set_output_type(j, trt.float32)
        if layer.type == getattr(trt.LayerType, "NORMALIZATION", None) and hasattr(
            trt, "INormalizationLayer"
        ):
            layer.__class__ = trt.INormalizationLayer  # the Python API's downcast (as Polygraphy does)
            layer.compute_precision = trt.float32  # accumulate mean/variance in FP32 too
        names.append(layer.name)
    return names


def load_timing_cache(bconfig: Any, path: Path) -> Any:
    """Start from the cache at ``path`` when it exists (else an empty one); returns the cache.

    Raises:
        EngineBuildError: The cache was made by another TensorRT version or GPU.
    """
    data = path.read_bytes() if path.is_file() else b""
    cache = bconfig.create_timing_cache(data)
    if not bconfig.set_timing_cache(cache, ignore_mismatch=False):
        raise EngineBuildError(
            f"timing cache {path} was made on another GPU or TensorRT; delete it or pass another"
        )
    LOG.info("timing cache %s: %s", path, f"{len(data)} bytes reused" if data else "new")
    return cache


def save_timing_cache(bconfig: Any, path: str | Path) -> None:
    """Write the (grown) timing cache back, atomically."""
    write_atomic(path, bytes(bconfig.get_timing_cache().serialize()))


def make_progress_monitor(trt: Any, progress: Progress) -> Any:
    """A ``trt.IProgressMonitor`` reporting each top-level build phase to ``progress``."""

    class Monitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            if parent_phase is None:
                progress(f"{phase_name} ({num_steps} steps)")

        def step_complete(self, phase_name: str, step: int) -> bool:
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            LOG.debug("finished %s", phase_name)

    return Monitor()


def make_calibrator(trt: Any, config: EngineConfig, profile: Profile, backend: CudaBackend) -> Any:
    """The entropy calibrator over ``config.calib_data`` at the profile's opt shape, with cache.

    Images are resized to cover the opt H x W and centre-cropped (aspect kept); with only
    ``calib_cache`` TensorRT reads the cache and asks for no batch.

    Raises:
        InputError: Fewer images than one batch of the profile's opt N.
    """
    del trt  # the calibrator imports tensorrt itself (lazily, like everything else here)
    from nst.calibration.source import ImageFolderSource
    from nst.calibration.trt_calibrator import make_entropy_calibrator

    cache = Path(config.calib_cache) if config.calib_cache is not None else None
    n, _, h, w = profile.opt
    source = None
    if config.calib_data is not None:
        source = ImageFolderSource(config.calib_data, size=(h, w), limit=config.calib_images)
        if len(source) < n:
            raise InputError(
                f"calibration needs at least {n} images (one batch), {config.calib_data} has {len(source)}"
            )
    return make_entropy_calibrator(source, cache, n, backend)
