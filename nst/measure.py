"""One machine description and one timer for every measurement nst writes down.

``nst bench``, ``nst eval``, the calibration report and the benchmark scripts all describe
the machine with :func:`machine_description` and time with :func:`time_fn`, so their figures
are comparable and their JSON records name the machine the same way. Torch-free: libraries
the caller used (torch, onnxruntime, TensorRT) are added as ``versions``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import nst


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description(
    *, gpu: str | None = None, versions: Mapping[str, str] | None = None, threads: int | None = None
) -> dict[str, str | int]:
    """CPU, cores, Python, OS and nst version; ``gpu``, library ``versions`` and ``threads`` if given."""
    out: dict[str, str | int] = {
        "cpu": cpu_name(), "cores": os.cpu_count() or 0, "python": platform.python_version(),
        "system": platform.platform(terse=True), "nst": nst.__version__,
    }  # fmt: skip
    if gpu:
        out["gpu"] = gpu
    if threads is not None:
        out["threads"] = threads
    out.update(versions or {})
    return out


def time_fn(
    fn: Callable[[], object], *, warmup: int = 1, min_runs: int = 3, min_seconds: float = 0.0
) -> list[float]:
    """Run ``fn`` ``warmup`` times, then until both ``min_runs`` and ``min_seconds`` are met.

    Returns:
        The timed runs' wall times in seconds.
    """
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def summarize_ms(seconds: Sequence[float]) -> dict[str, float]:
    """``{"median_ms", "min_ms", "max_ms", "runs"}`` of wall times given in seconds."""
    ms = [s * 1e3 for s in seconds]
    return {"median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms), "runs": len(ms)}


def reset_peak_rss() -> None:
    """Reset this process's peak RSS (Linux ``clear_refs``; a no-op elsewhere)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float | None:
    """This process's peak RSS (``VmHWM``) in MiB, or None where ``/proc`` is absent."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
