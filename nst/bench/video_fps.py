"""``nst bench --video CLIP``: end-to-end video frames/s (decode + infer + encode) per backend.

Every case runs the real :func:`nst.runtime.video.stylize_video` pipeline (decode thread,
batches through the Runner, encode thread; DIS flow and blending with ``--consistency flow``)
on the same clip into a scratch file, with an already open Runner that has run one warm-up
batch of the clip's size (so TensorRT builds, CUDA graph captures and allocator warm-up are
not timed). The figure is frames / wall seconds of that call.

========================== ==========================================================
target                     runner
========================== ==========================================================
``ort-cpu``                ONNX Runtime, CPU EP
``ort-cuda``               ONNX Runtime, CUDA EP
``ort-trt-fp16``           ONNX Runtime, TensorRT EP (FP16, engine cache)
``trt``                    an ``nst build-engine`` plan (``engine=``)
``torch-eager``            the architecture in PyTorch eager on the CPU (random weights)
``torch-cuda``             the same on CUDA, host arrays in and out
========================== ==========================================================
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

import nst
from nst.artifacts import write_bytes
from nst.errors import InputError, did_you_mean
from nst.measure import machine_description
from nst.runtime.base import Feed, Runner
from nst.runtime.registry import open_runner

VIDEO_TARGETS = ("ort-cpu", "ort-cuda", "ort-trt-fp16", "trt", "torch-eager", "torch-cuda")
CONSISTENCIES = ("none", "flow")


@dataclass(frozen=True)
class VideoFpsCase:
    """One measured (target, consistency) pair; ``fps`` is None with ``skipped`` set when it could not run."""

    target: str
    consistency: str
    frames: int
    width: int
    height: int
    batch_size: int
    seconds: float | None
    fps: float | None
    backend: str = ""
    skipped: str | None = None


def available_targets(engine: Path | None = None) -> list[str]:
    """The video targets this machine can run (``trt`` only with an engine)."""
    from nst.bench.targets import unavailable

    names = [t for t in VIDEO_TARGETS if unavailable(t) is None]
    return [t for t in names if t != "trt" or engine is not None]


def check_video_targets(targets: Sequence[str], consistencies: Sequence[str], engine: Path | None) -> None:
    """Validate names before any work.

    Raises:
        InputError: An unknown target or consistency (with a suggestion), or ``trt`` without an engine.
    """
    for name in targets:
        if name not in VIDEO_TARGETS:
            raise InputError(f"unknown video target {name!r}{did_you_mean(name, VIDEO_TARGETS)}; "
                             f"choose from {', '.join(VIDEO_TARGETS)}")  # fmt: skip
    for name in consistencies:
        if name not in CONSISTENCIES:
            raise InputError(f"unknown consistency {name!r}; choose from {', '.join(CONSISTENCIES)}")
    if "trt" in targets and engine is None:
        raise InputError("video target trt needs --engine MODEL.plan (from nst build-engine)")


class TorchRunner(Runner):
    """The model's architecture in PyTorch eager (random weights: same layers, same work)."""

    def __init__(self, model: Path, device: str) -> None:
        from nst.bench.targets import net_from_metadata

        with open_runner(model, providers="cpu") as reference:
            metadata = reference.metadata
        super().__init__(metadata)
        net = net_from_metadata(metadata)  # torch missing: the "install nst[train]" error
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.net = net.to(self.device)

    @property
    def label(self) -> str:
        return f"torch eager ({self.device})"

    def _infer(self, feed: Feed) -> Feed:
        inputs = [self.torch.from_numpy(np.ascontiguousarray(a)).to(self.device) for a in feed.values()]
        with self.torch.inference_mode():
            out = self.net(*inputs)
        return {self.spec.outputs[0].name: out.float().cpu().numpy()}


def open_target(name: str, model: Path, *, engine: Path | None = None, device_id: int = 0,
                workdir: Path | None = None) -> Runner:  # fmt: skip
    """An open Runner for video target ``name``."""
    if name == "ort-cpu":
        return open_runner(model, providers="cpu")
    if name in ("ort-cuda", "ort-trt-fp16"):
        from nst.runtime.onnxrt.gpu import OrtGpuOptions

        trt = name == "ort-trt-fp16"
        cache = (workdir or Path(tempfile.mkdtemp(prefix="nst-video-fps-"))) / "trt-ep-cache" if trt else None
        options = OrtGpuOptions(device_id=device_id, trt_fp16=trt, trt_cache_dir=cache)
        return open_runner(model, providers=["tensorrt", "cuda"] if trt else ["cuda"], gpu=options)
    if name == "trt":
        if engine is None:
            raise InputError("video target trt needs --engine MODEL.plan (from nst build-engine)")
        return open_runner(engine, device=device_id)
    return TorchRunner(model, "cpu" if name == "torch-eager" else f"cuda:{device_id}")


def bench_video_fps(
    clip: Path, model: Path, targets: Sequence[str], *, consistencies: Sequence[str] = CONSISTENCIES,
    engine: Path | None = None, device_id: int = 0, batch_size: int = 4,
    progress: Callable[[str], None] | None = None,
) -> list[VideoFpsCase]:  # fmt: skip
    """Time ``stylize_video`` on ``clip`` for every (target, consistency).

    A target whose library or device is missing is reported as skipped (with the reason), not
    raised, so one run on a GPU host covers whatever it has.

    Raises:
        InputError: Bad names (see :func:`check_video_targets`), ``batch_size`` < 1.
        InputImageError: ``clip`` is not a readable video.
    """
    from nst.bench.targets import unavailable
    from nst.runtime.video import probe

    check_video_targets(targets, consistencies, engine)
    if batch_size < 1:
        raise InputError(f"batch size must be >= 1, got {batch_size}")
    info = probe(clip)
    cases: list[VideoFpsCase] = []
    with tempfile.TemporaryDirectory(prefix="nst-video-fps-") as tmp:
        work = Path(tmp)
        for name in targets:
            why = unavailable(name)
            if why is not None:
                cases += [VideoFpsCase(name, c, 0, info.width, info.height, batch_size, None, None,
                                       skipped=why) for c in consistencies]  # fmt: skip
                continue
            with open_target(name, model, engine=engine, device_id=device_id, workdir=work) as runner:
                _warm_up(runner, clip, info.height, info.width, batch_size, info.frames)
                for consistency in consistencies:
                    if progress:
                        progress(f"{name} consistency={consistency}")
                    cases.append(_measure(name, runner, clip, work, consistency, batch_size))
    return cases


def _warm_up(
    runner: Runner, clip: Path, height: int, width: int, batch_size: int, frames: int | None
) -> None:
    """One batch of the clip's size (and of the last, partial batch): engine builds happen here."""
    from nst.runtime.stylize_job import StylizeOptions, choice_inputs
    from nst.runtime.stylizer import Stylizer

    runner.spec.check_image_size(height, width)
    stylizer = Stylizer(runner, batch_size=batch_size, **choice_inputs(runner, StylizeOptions((clip,), clip)))
    sizes = {batch_size} | ({frames % batch_size} if frames and frames % batch_size else set())
    for n in sorted(sizes):
        stylizer.stylize_batch(np.zeros((n, 3, height, width), np.float32))


def _measure(
    name: str, runner: Runner, clip: Path, work: Path, consistency: str, batch_size: int
) -> VideoFpsCase:
    from nst.runtime.video import VideoOptions, stylize_video

    options = VideoOptions(clip, work / "out.mp4", consistency=consistency, batch_size=batch_size, force=True)
    start = time.perf_counter()
    result = stylize_video(options, runner=runner)
    seconds = time.perf_counter() - start
    return VideoFpsCase(name, consistency, result.frames, result.width, result.height, batch_size,
                        round(seconds, 3), round(result.frames / seconds, 3), result.backend)  # fmt: skip


def write_video_fps(
    cases: Sequence[VideoFpsCase], clip: Path, model: Path, out_dir: Path, tag: str = "video-fps",
    load: Sequence[float] | None = None,
) -> tuple[Path, Path]:  # fmt: skip
    """Write ``<tag>.json`` and ``<tag>.md`` into ``out_dir`` (replaced; the caller checks --force).

    ``load`` is the 1/5/15-minute load average when the run started (other work skews frames/s).
    """
    from nst.bench.targets import gpu_name

    out_dir.mkdir(parents=True, exist_ok=True)
    gpu = gpu_name(0) if any(c.target in ("ort-cuda", "ort-trt-fp16", "trt", "torch-cuda") and c.fps
                             for c in cases) else None  # fmt: skip
    record: dict[str, Any] = {
        "nst_version": nst.__version__, "clip": clip.name, "model": model.name,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_description(gpu=gpu), "cases": [asdict(c) for c in cases],
        "load_average_1_5_15_min_at_start": list(load) if load is not None else None,
    }  # fmt: skip
    json_path, md_path = out_dir / f"{tag}.json", out_dir / f"{tag}.md"
    write_bytes(json_path, (json.dumps(record, indent=2) + "\n").encode())
    write_bytes(md_path, (video_fps_markdown(record) + "\n").encode())
    return json_path, md_path


def video_fps_markdown(record: dict[str, Any]) -> str:
    """The results as a markdown table (one row per target and consistency)."""
    cases = record["cases"]
    size = next((f"{c['width']}x{c['height']}" for c in cases), "?")
    lines = [
        f"# Video end to end: decode + infer + encode ({record['clip']}, {size})",
        "",
        f"Model `{record['model']}`, nst {record['nst_version']}, {record['date']}. "
        f"Machine: {_machine(record['machine'])}."
        + (
            f" Load average (1/5/15 min) at the start: {record['load_average_1_5_15_min_at_start']}."
            if record.get("load_average_1_5_15_min_at_start")
            else ""
        ),
        "",
        "| target | backend | consistency | frames | batch | seconds | frames/s |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for c in cases:
        if c["fps"] is None:
            lines.append(f"| {c['target']} | n/a: {c['skipped']} | {c['consistency']} | | | | |")
            continue
        lines.append(f"| {c['target']} | {c['backend']} | {c['consistency']} | {c['frames']} | "
                     f"{c['batch_size']} | {c['seconds']:.2f} | {c['fps']:.2f} |")  # fmt: skip
    lines += ["", "Reproduce: `nst bench --video CLIP` (see docs/VIDEO.md)."]
    return "\n".join(lines)


def _machine(machine: Any) -> str:
    if isinstance(machine, dict):
        return ", ".join(f"{k} {v}" for k, v in machine.items() if v is not None)
    return str(machine)


@dataclass(frozen=True)
class VideoBenchResult:
    """What :func:`run_video_bench` measured and wrote."""

    cases: list[VideoFpsCase]
    json_path: Path
    md_path: Path

    def summary(self) -> str:
        measured = [c for c in self.cases if c.fps is not None]
        best = max(measured, key=lambda c: c.fps or 0.0, default=None)
        tail = (
            f" (best: {best.target}, consistency {best.consistency}, {best.fps:.2f} frames/s)" if best else ""
        )
        return f"benchmarked {len(measured)} video cases -> {self.json_path}, {self.md_path}{tail}"


def run_video_bench(
    clip: Path, model: Path, *, targets: Sequence[str] | None = None, consistencies: Sequence[str] = (),
    engine: Path | None = None, device_id: int = 0, batch_size: int = 4, out_dir: Path = Path("benchmarks"),
    tag: str = "video-fps", force: bool = False, progress: Callable[[str], None] | None = None,
) -> VideoBenchResult:  # fmt: skip
    """``nst bench --video CLIP``: measure, then write ``<tag>.json`` / ``<tag>.md`` into ``out_dir``.

    Args:
        targets: Video targets (None: every one this machine can run, ``trt`` with ``engine``).
        consistencies: ``none`` and/or ``flow`` (empty: both).

    Raises:
        InputError: Bad names or batch size (before any work).
        OutputExistsError: The results exist and ``force`` is false (before any work).
    """
    import os

    from nst.artifacts import check_targets

    load = [round(x, 2) for x in os.getloadavg()]
    chosen = list(targets) if targets is not None else available_targets(engine)
    modes = list(consistencies) or list(CONSISTENCIES)
    check_video_targets(chosen, modes, engine)
    check_targets([out_dir / f"{tag}.json", out_dir / f"{tag}.md"], force=force, what=" (or --tag NAME)")
    cases = bench_video_fps(clip, model, chosen, consistencies=modes, engine=engine, device_id=device_id,
                            batch_size=batch_size, progress=progress)  # fmt: skip
    json_path, md_path = write_video_fps(cases, clip, model, out_dir, tag, load)
    return VideoBenchResult(cases, json_path, md_path)
