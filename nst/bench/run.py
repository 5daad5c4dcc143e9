"""``nst bench``: latency/throughput/memory of targets on the same net, written to
``benchmarks/`` as JSON and a markdown table.

Targets are listed in :mod:`nst.bench.targets` (ONNX Runtime CPU/CUDA/TensorRT EP,
TensorRT engines, PyTorch eager/compile baselines). Memory: peak RSS of the process during a
case (Linux: reset through ``/proc/self/clear_refs`` before each case), so it includes the
runtime; for GPU cases also the device memory in use after the case above what was in use
before the target was set up.

``baselines`` (``nst bench --model PATH``, :mod:`nst.bench.baseline`) are other ONNX files timed
in the same run: on every ONNX Runtime target, each case times the main model and every
baseline round-robin (one run of each in turn), so a change in machine load hits them alike.
Peak memory is not separable then and is left out of those cases.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

import nst
from nst.bench.baseline import (
    BASELINE_TARGETS,
    Baseline,
    baseline_feed,
    baseline_run,
    baseline_session,
    read_baselines,
)
from nst.bench.targets import (
    GPU_TARGETS,
    BenchContext,
    check_target_names,
    gpu_memory_used_mb,
    gpu_name,
    preflight,
    prepare,
)
from nst.errors import InputError
from nst.measure import machine_description, peak_rss_mb, reset_peak_rss, time_fn
from nst.runtime.base import Runner
from nst.runtime.registry import open_runner

SIZES = {"256": (256, 256), "512": (512, 512), "720p": (720, 1280), "1080p": (1080, 1920), "4k": (2160, 3840)}


@dataclass(frozen=True)
class BenchCase:
    """One measured (target, precision, size, batch)."""

    target: str
    precision: str
    size: str
    batch: int
    p50_ms: float
    p95_ms: float
    images_per_s: float
    peak_rss_mb: float | None
    runs: int
    gpu_mem_mb: float | None = None
    model: str = ""  # the file timed (the main model's name, or a baseline's)
    baseline: bool = False  # an extra ONNX file from --model


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


def run_bench(
    model: Path, sizes: Sequence[str], targets: Sequence[str], *, batches: Sequence[int] = (1,),
    engine: Path | None = None, device_id: int = 0, min_runs: int = 5, min_seconds: float = 2.0,
    warmup: int = 2, progress: Callable[[str], None] | None = None, into: list[BenchCase] | None = None,
    baselines: Sequence[Path] = (),
) -> list[BenchCase]:  # fmt: skip
    """Measure every (size, batch, target); see :mod:`nst.bench.targets` for targets.

    Cases are appended to ``into`` (when given) as they finish, so a caller keeps what was
    measured before a failure. ``baselines`` are timed interleaved with ``model`` on the
    targets in :data:`~nst.bench.baseline.BASELINE_TARGETS`.

    Raises:
        InputError: Unknown target or size, a batch < 1, ``trt`` without ``engine``, baselines
            with no ONNX Runtime target to run on.
        ModelError: A baseline cannot be read or has no image input (checked before timing).
        MissingDependencyError: A target cannot run on this machine (checked before any timing).
    """
    chosen = check_target_names(list(targets), engine)
    sizes = parse_sizes(sizes)
    if not batches or min(batches) < 1:
        raise InputError(f"batch sizes must be >= 1, got {list(batches)}")
    preflight(chosen)
    extra = read_baselines(list(baselines))
    if extra and not set(chosen) & set(BASELINE_TARGETS):
        raise InputError(
            f"--model baselines run on {', '.join(BASELINE_TARGETS)}; add one of them as --target"
        )
    if engine is not None:
        check_engine_shapes(engine, [(b, *size_of(s)) for s in sizes for b in batches])
    timing = {"warmup": warmup, "min_runs": min_runs, "min_seconds": min_seconds}
    cases = [] if into is None else into
    with open_runner(model, providers="cpu") as runner:
        ctx = BenchContext(model, runner, engine=engine, device_id=device_id)
        try:
            rng = np.random.default_rng(0)
            for size in sizes:
                h, w = size_of(size)
                for batch in batches:
                    feed = bench_feed(runner, rng.random((batch, 3, h, w), dtype=np.float32))
                    for target in chosen:
                        if progress:
                            progress(f"{target} {size} batch {batch}")
                        if extra and target in BASELINE_TARGETS:
                            cases.extend(_measure_group(target, ctx, feed, extra, size, batch, timing))
                        else:
                            cases.append(_measure(target, ctx, feed, size, batch, timing))
        finally:
            shutil.rmtree(ctx.workdir, ignore_errors=True)
    return cases


def check_engine_shapes(engine: Path, shapes: Sequence[tuple[int, int, int]]) -> None:
    """Refuse, before timing, (N, H, W) cases no profile of ``engine`` holds (read from its sidecar).

    Raises:
        InputError: Naming the cases and the engine's profiles.
        ModelError: The engine or its sidecar is missing.
    """
    from nst.runtime.trt.sidecar import read_engine_record

    profiles = read_engine_record(engine)[0].profiles
    outside = [f"{n}x3x{h}x{w}" for n, h, w in shapes if not any(p.contains((n, 3, h, w)) for p in profiles)]
    if outside:
        listed = " | ".join(p.describe() for p in profiles)
        raise InputError(
            f"{engine.name} has no profile for {', '.join(outside)} [{listed}]; rebuild it with "
            "nst build-engine --min/--opt/--max covering them, or drop those --size/--batch"
        )


def bench_feed(runner: Runner, image: np.ndarray) -> dict[str, np.ndarray]:
    """The image batch plus every other input a model needs, in graph order: seeded noise
    (texture_style), style 0 (multi-style nets, uniform masks for StyleBank) or a random
    256 x 256 style image (style-swap)."""
    from nst.runtime.style_image import STYLE_INPUT
    from nst.runtime.style_inputs import materialise, noise_feeds, style_feeds

    n, _, h, w = image.shape
    specs = runner.spec.inputs
    names = {t.name for t in specs}
    extra = {**noise_feeds(specs[1:], None)}
    if "style_weights" in names:
        extra.update(style_feeds(specs, runner.metadata.styles, style=0))
    if STYLE_INPUT in names:
        extra[STYLE_INPUT] = np.random.default_rng(1).random((1, 3, 256, 256), dtype=np.float32)
    return {specs[0].name: image, **materialise(specs[1:], extra, n, h, w)}


def _measure(
    target: str, ctx: BenchContext, feed: dict[str, np.ndarray], size: str, batch: int,
    timing: Mapping[str, float],
) -> BenchCase:  # fmt: skip
    gpu_before = gpu_memory_used_mb(ctx.device_id) if target in GPU_TARGETS else None
    prepared = prepare(target, ctx, feed)
    try:
        reset_peak_rss()
        times = time_fn(prepared.run, warmup=int(timing["warmup"]), min_runs=int(timing["min_runs"]),
                        min_seconds=timing["min_seconds"])  # fmt: skip
        rss = peak_rss_mb()
        gpu_after = gpu_memory_used_mb(ctx.device_id) if gpu_before is not None else None
    finally:
        prepared.close()
    p50 = statistics.median(times)
    p95 = float(np.percentile(times, 95))
    gpu_mb = gpu_after - gpu_before if gpu_after is not None and gpu_before is not None else None
    return BenchCase(target, prepared.precision, size, batch, p50 * 1e3, p95 * 1e3, batch / p50, rss,
                     len(times), gpu_mb, ctx.model.name)  # fmt: skip


def _measure_group(
    target: str, ctx: BenchContext, feed: dict[str, np.ndarray], baselines: Sequence[Baseline], size: str,
    batch: int, timing: Mapping[str, float],
) -> list[BenchCase]:  # fmt: skip
    """The main model and every baseline on ``target``, timed round-robin."""
    prepared = prepare(target, ctx, feed)
    try:
        runs, batches = [prepared.run], [batch]
        for b in baselines:
            b_feed, b_batch = baseline_feed(b, feed[next(iter(feed))])
            session = baseline_session(b, target, ctx.device_id, ctx.workdir / "baseline-trt-cache")
            runs.append(baseline_run(session, b_feed, target, ctx.device_id))
            batches.append(b_batch)
        times = time_interleaved(runs, warmup=int(timing["warmup"]), min_runs=int(timing["min_runs"]),
                                 min_seconds=timing["min_seconds"])  # fmt: skip
    finally:
        prepared.close()
    names = [ctx.model.name] + [b.name for b in baselines]
    precisions = [prepared.precision] + ["fp16" if target == "ort-trt-fp16" else "fp32"] * len(baselines)
    cases = []
    for i, (t, n) in enumerate(zip(times, batches, strict=True)):
        p50 = statistics.median(t)
        cases.append(BenchCase(target, precisions[i], size, n, p50 * 1e3, float(np.percentile(t, 95)) * 1e3,
                               n / p50, None, len(t), None, names[i], i > 0))  # fmt: skip
    return cases


def time_interleaved(
    fns: Sequence[Callable[[], object]], *, warmup: int, min_runs: int, min_seconds: float
) -> list[list[float]]:
    """Wall times of each of ``fns``, run one after another in rounds until every one has
    ``min_runs`` runs and each has had ``min_seconds`` on average."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    start = time.perf_counter()
    while len(times[0]) < min_runs or time.perf_counter() - start < min_seconds * len(fns):
        for fn, spent in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - t0)
    return times


def write_results(cases: Sequence[BenchCase], model: Path, out_dir: Path, tag: str) -> tuple[Path, Path]:
    """Write ``<tag>.json`` and ``<tag>.md`` into ``out_dir`` (a results file is replaced)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    gpu = gpu_name(0) if any(c.target in GPU_TARGETS for c in cases) else None
    machine = machine_description(gpu=gpu)
    record = {
        "nst_version": nst.__version__, "model": model.name,
        "baselines": list(dict.fromkeys(c.model for c in cases if c.baseline)),
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
    """p50 latency ratio slow/fast per size at the first batch size both have (> 1: ``fast`` wins)."""
    by: dict[tuple[str, str], float] = {}
    for c in (c for c in cases if not c.baseline):
        by.setdefault((c.target, c.size), c.p50_ms / c.batch)
    return {s: by[(slow, s)] / by[(fast, s)] for (b, s) in by if b == fast and (slow, s) in by}


def baseline_ratios(cases: Sequence[BenchCase]) -> dict[str, dict[str, float]]:
    """Baseline name -> {"<target> <size>": main p50 / baseline p50 per image} from the interleaved
    cases (< 1: the main model is faster), at the first batch size the main model ran."""
    main: dict[tuple[str, str], float] = {}
    for c in cases:
        if not c.baseline:
            main.setdefault((c.target, c.size), c.p50_ms / c.batch)
    out: dict[str, dict[str, float]] = {}
    for c in (c for c in cases if c.baseline and (c.target, c.size) in main):
        out.setdefault(c.model, {}).setdefault(
            f"{c.target} {c.size}", main[(c.target, c.size)] * c.batch / c.p50_ms
        )
    return out


def best_throughput(cases: Sequence[BenchCase]) -> dict[tuple[str, str], BenchCase]:
    """(target, size) -> the case with the most images/s over the batch sizes tried."""
    best: dict[tuple[str, str], BenchCase] = {}
    for c in cases:
        key = (c.target, c.size) if not c.baseline else (f"{c.target} [{c.model}]", c.size)
        if key not in best or c.images_per_s > best[key].images_per_s:
            best[key] = c
    return best


def gpu_summary(cases: Sequence[BenchCase]) -> list[str]:
    """Lines comparing the fastest GPU target per size with torch eager FP16 in the same run."""
    lines = []
    smallest = min((c.batch for c in cases), default=1)
    gpu = [c for c in cases if c.target in GPU_TARGETS and c.batch == smallest and not c.baseline]
    for size in dict.fromkeys(c.size for c in gpu):
        here = [c for c in gpu if c.size == size]
        fastest = min(here, key=lambda c: c.p50_ms)
        what = f"{fastest.target} ({fastest.precision})"
        line = f"{size}: fastest {what} {fastest.p50_ms:.2f} ms = {fastest.images_per_s:.0f} img/s"
        eager = [c for c in here if c.target == "torch-cuda-fp16"]
        if eager and fastest.target != "torch-cuda-fp16":
            line += f", {eager[0].p50_ms / fastest.p50_ms:.2f}x faster than torch eager FP16"
        lines.append(line)
    return lines


def markdown_table(cases: Sequence[BenchCase], record: Mapping[str, Any]) -> str:
    machine = record["machine"]
    gpu = f"; GPU: {machine['gpu']}" if "gpu" in machine else ""
    named = any(c.baseline for c in cases)
    lines = [
        f"# nst bench: {record['model']}"
        + (f" vs {', '.join(record.get('baselines', []))}" if named else ""),
        "",
        f"Machine: {machine['cpu']} ({machine['cores']} cores){gpu}, {machine['system']}; "
        f"nst {record['nst_version']}; {record['date']}",
        "",
        ("| model " if named else "")
        + "| target | precision | size | batch | p50 ms | p95 ms | img/s | peak RSS MB "
        "| GPU MB | runs |",
        ("|---" if named else "") + "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cases:
        rss = f"{c.peak_rss_mb:.0f}" if c.peak_rss_mb is not None else "n/a"
        gpu_mb = f"{c.gpu_mem_mb:.0f}" if c.gpu_mem_mb is not None else "n/a"
        row = f"| {c.target} | {c.precision} | {c.size} | {c.batch} | {c.p50_ms:.1f} | {c.p95_ms:.1f} | "
        row += f"{c.images_per_s:.2f} | {rss} | {gpu_mb} | {c.runs} |"
        lines.append((f"| {c.model} " if named else "") + row)
    if len({c.batch for c in cases}) > 1:
        lines += ["", "Best throughput over the batch sizes tried:", ""]
        for (target, size), c in best_throughput(cases).items():
            lines.append(f"- {target} {size}: {c.images_per_s:.1f} img/s at batch {c.batch}")
    ratios = speedups(cases)
    if ratios:
        lines += [
            "",
            "torch eager p50 / ORT CPU p50: " + ", ".join(f"{s}: {r:.2f}x" for s, r in ratios.items()),
        ]
    if named:
        lines += ["", f"{record['model']} p50 / baseline p50 per image, timed interleaved in this run "
                  "(< 1: faster than the baseline; peak RSS is not separable there: n/a):", ""]  # fmt: skip
        for name, by in baseline_ratios(cases).items():
            lines.append(f"- {name}: " + ", ".join(f"{k}: {r:.2f}x" for k, r in by.items()))
    summary = gpu_summary(cases)
    if summary:
        smallest = min(c.batch for c in cases)
        lines += ["", f"GPU (device-resident inputs/outputs, batch {smallest}):", ""]
        lines += [f"- {line}" for line in summary]
    return "\n".join(lines)
