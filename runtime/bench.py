"""``nst bench``: latency/throughput/peak memory of backends on the same net, written to
``benchmarks/`` as JSON and a markdown table.

The torch baseline rebuilds the exported model's architecture from its metadata
(``nst.family`` + ``nst.model_config``); its weights are random, which does not change the
work done (same layers, same shapes). Peak memory is the process's peak RSS during a case
(Linux: reset through ``/proc/self/clear_refs`` before each case), so it includes the runtime.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

import nst
from nst.errors import InputError
from nst.runtime.onnxrt import OrtRunner

SIZES = {"256": (256, 256), "512": (512, 512), "720p": (720, 1280), "1080p": (1080, 1920), "4k": (2160, 3840)}


@dataclass(frozen=True)
class BenchCase:
    """One measured (backend, precision, size, batch)."""

    backend: str
    precision: str
    size: str
    batch: int
    p50_ms: float
    p95_ms: float
    images_per_s: float
    peak_rss_mb: float | None
    runs: int


def parse_sizes(names: Sequence[str]) -> list[str]:
    """Validate size names (``256``, ``512``, ``720p``, ``1080p``, ``4k`` or ``HxW``)."""
    for name in names:
        if name not in SIZES and not _hxw(name):
            raise InputError(f"unknown bench size {name!r}: use {', '.join(SIZES)} or HxW")
    return list(names)


def _hxw(name: str) -> tuple[int, int] | None:
    h, sep, w = name.partition("x")
    return (int(h), int(w)) if sep and h.isdigit() and w.isdigit() else None


def size_of(name: str) -> tuple[int, int]:
    return SIZES.get(name) or _hxw(name)  # type: ignore[return-value]


def machine_description() -> dict[str, str | int]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count() or 0, "python": platform.python_version(),
            "system": platform.platform(terse=True)}  # fmt: skip


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def time_fn(fn: Callable[[], object], *, warmup: int, min_runs: int, min_seconds: float) -> list[float]:
    """Run ``fn`` ``warmup`` times, then until both ``min_runs`` and ``min_seconds`` are met."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _case(
    backend: str, precision: str, size: str, batch: int, fn: Callable[[], object], **timing: float
) -> BenchCase:
    _reset_peak()
    times = time_fn(fn, warmup=int(timing["warmup"]), min_runs=int(timing["min_runs"]),
                    min_seconds=timing["min_seconds"])  # fmt: skip
    p50 = statistics.median(times)
    p95 = float(np.percentile(times, 95))
    return BenchCase(
        backend, precision, size, batch, p50 * 1e3, p95 * 1e3, batch / p50, _peak_rss_mb(), len(times)
    )


def torch_eager_fn(runner: OrtRunner, image: np.ndarray) -> Callable[[], object]:
    """A closure running the same architecture in PyTorch eager mode (no grad, fp32, CPU)."""
    from nst.errors import require

    torch = require("torch", "train")
    from nst.train.models import build_model

    cfg = json.loads(runner.metadata.extra.get("nst.model_config", "{}"))
    net = build_model(runner.metadata.family, cfg).eval()
    x = torch.from_numpy(image)  # type: ignore[attr-defined]

    def run() -> object:
        with torch.inference_mode():  # type: ignore[attr-defined]
            return net(x)

    return run


def run_bench(
    model: Path, sizes: Sequence[str], backends: Sequence[str], *, batch: int = 1,
    min_runs: int = 5, min_seconds: float = 2.0, warmup: int = 2,
    progress: Callable[[str], None] | None = None,
) -> list[BenchCase]:  # fmt: skip
    """Measure every (backend, size). Backends: ``ort-cpu``, ``torch-eager``."""
    known = {"ort-cpu", "torch-eager"}
    unknown = [b for b in backends if b not in known]
    if unknown:
        raise InputError(f"unknown bench backend(s) {unknown}; known on this build: {sorted(known)}")
    timing = {"warmup": warmup, "min_runs": min_runs, "min_seconds": min_seconds}
    cases = []
    with OrtRunner(model, providers="cpu") as runner:
        name = runner.spec.inputs[0].name
        rng = np.random.default_rng(0)
        for size in parse_sizes(sizes):
            h, w = size_of(size)
            image = rng.random((batch, 3, h, w), dtype=np.float32)
            for backend in backends:
                if progress:
                    progress(f"{backend} {size}")
                if backend == "ort-cpu":
                    fn: Callable[[], object] = functools.partial(runner.infer, {name: image})
                else:
                    fn = torch_eager_fn(runner, image)
                cases.append(_case(backend, "fp32", size, batch, fn, **timing))
    return cases


def write_results(cases: Sequence[BenchCase], model: Path, out_dir: Path, tag: str) -> tuple[Path, Path]:
    """Write ``<tag>.json`` and ``<tag>.md`` into ``out_dir`` (a results file is replaced)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    machine = machine_description()
    record = {
        "nst_version": nst.__version__, "model": model.name,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine,
        "cases": [asdict(c) for c in cases],
    }  # fmt: skip
    json_path, md_path = out_dir / f"{tag}.json", out_dir / f"{tag}.md"
    json_path.write_text(json.dumps(record, indent=2) + "\n")
    md_path.write_text(markdown_table(cases, record) + "\n")
    return json_path, md_path


def speedups(
    cases: Sequence[BenchCase], fast: str = "ort-cpu", slow: str = "torch-eager"
) -> dict[str, float]:
    """p50 latency ratio slow/fast per size (> 1 means ``fast`` wins)."""
    by = {(c.backend, c.size): c.p50_ms for c in cases}
    return {s: by[(slow, s)] / by[(fast, s)] for (b, s) in by if b == fast and (slow, s) in by}


def markdown_table(cases: Sequence[BenchCase], record: Mapping[str, Any]) -> str:
    machine = record["machine"]
    lines = [
        f"# nst bench: {record['model']}",
        "",
        f"Machine: {machine['cpu']} ({machine['cores']} cores), {machine['system']}; "
        f"nst {record['nst_version']}; {record['date']}",
        "",
        "| backend | precision | size | batch | p50 ms | p95 ms | img/s | peak RSS MB | runs |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for c in cases:
        rss = f"{c.peak_rss_mb:.0f}" if c.peak_rss_mb is not None else "n/a"
        lines.append(f"| {c.backend} | {c.precision} | {c.size} | {c.batch} | {c.p50_ms:.1f} | "
                     f"{c.p95_ms:.1f} | {c.images_per_s:.2f} | {rss} | {c.runs} |")  # fmt: skip
    ratios = speedups(cases)
    if ratios:
        lines += [
            "",
            "torch eager p50 / ORT CPU p50: " + ", ".join(f"{s}: {r:.2f}x" for s, r in ratios.items()),
        ]
    return "\n".join(lines)
