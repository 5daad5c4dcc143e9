"""An :class:`EngineConfig` applied to a TensorRT builder config: memory, profiles, targets,
version compatibility, timing cache, progress.

Every function takes the imported library (``trt`` or a :class:`TrtLib`) from its caller, so
this module imports no TensorRT. No precision is set here: networks are strongly typed, the
ONNX file's types are the engine's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nst.artifacts import write_bytes
from nst.contract.profiles import Profile, input_shapes
from nst.errors import EngineBuildError, ModelError
from nst.runtime.trt.config import EngineConfig, SourceModel
from nst.runtime.trt.libs import TrtLib
from nst.runtime.trt.logger import LOG
from nst.runtime.trt.targets import Targets, set_targets

Progress = Callable[[str], None]


@dataclass
class BuildSetup:
    """Objects TensorRT keeps raw pointers to: they must outlive the build."""

    keep_alive: list[Any] = field(default_factory=list)


def configure(
    lib: TrtLib, builder: Any, bconfig: Any, network: Any, config: EngineConfig, model: SourceModel,
    profiles: tuple[Profile, ...], targets: Targets, progress: Progress | None = None,
) -> BuildSetup:  # fmt: skip
    """Apply ``config`` to ``bconfig``.

    Raises:
        ModelError: The parsed network's inputs are not the ones the metadata declares.
        EngineBuildError: The timing cache belongs to another GPU or TensorRT.
    """
    trt = lib.module
    setup = BuildSetup()
    if config.workspace_mb is not None:
        bconfig.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, config.workspace_mb << 20)
    if config.optimization_level is not None:
        bconfig.builder_optimization_level = config.optimization_level
    add_profiles(builder, bconfig, network, model, profiles)
    set_targets(lib, bconfig, targets)
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
    builder: Any, bconfig: Any, network: Any, model: SourceModel, profiles: tuple[Profile, ...]
) -> None:
    """One ``IOptimizationProfile`` per profile, with every network input's min/opt/max.

    Raises:
        ModelError: The parsed network's inputs are not the ones the metadata declares.
    """
    spec = model.metadata.spec
    names = [network.get_input(i).name for i in range(network.num_inputs)]
    declared = [t.name for t in spec.inputs]
    if names != declared:
        raise ModelError(f"{model.path.name}: network inputs {names} do not match metadata {declared}")
    for p in profiles:
        profile = builder.create_optimization_profile()
        for name, (lo, opt, hi) in input_shapes(spec, p).items():
            profile.set_shape(name, lo, opt, hi)
        bconfig.add_optimization_profile(profile)


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
    write_bytes(path, bytes(bconfig.get_timing_cache().serialize()))


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
