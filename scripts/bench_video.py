"""Video benchmarks: flat memory over length, throughput, and flicker with and without flow.

    .venv/bin/python scripts/bench_video.py rss      # 10 s vs 120 s of 720p30, cheap fake Runner
    .venv/bin/python scripts/bench_video.py speed    # 720p frames/s, bundled model and fake Runner
    .venv/bin/python scripts/bench_video.py flicker  # temporal error, 4 synthetic sequences, bundled model
    .venv/bin/python scripts/bench_video.py all      # all three

Each section is stored in benchmarks/video.json (sections not rerun are kept) and
benchmarks/video.md is rewritten from it. Every clip is made here with PyAV from photos
shipped with scikit-image; every run goes through ``nst.runtime.video.stylize_video``, the
same path as ``nst stylize clip.mp4``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

import nst
from nst.contract.metadata import ModelMetadata
from nst.contract.spec import ExportSpec
from nst.runtime.base import Feed, Runner

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks"

# --- scenes: synthetic clips whose true motion is known ------------------------------------
# Every frame views a photo through an affine camera A_t (frame pixel -> photo pixel), so
# the true backward motion of pixel x is A_{t-1}^-1 A_t x. "object" moves a cat over a still
# background (occlusions); "handheld" and "static" add sensor noise (sigma 3 levels).
SCENES = ("pan", "handheld", "static", "object")
_PHOTO = {"pan": "astronaut", "handheld": "coffee", "static": "chelsea", "object": "rocket"}
_NOISE = {"pan": 0.0, "handheld": 3.0, "static": 3.0, "object": 3.0}


def _camera(scene: str, t: int, size: tuple[int, int]) -> np.ndarray:
    """3x3 affine: frame pixel -> pixel of the photo resized to 1.5x the frame."""
    w, h = size
    if scene == "pan":  # a slow sweep with a zoom breathing in and out
        s = 0.8 + 0.08 * np.sin(2 * np.pi * t / 400)
        ox = 0.35 * w + 0.25 * w * np.sin(2 * np.pi * t / 240)
        oy = 0.35 * h + 0.25 * h * np.sin(2 * np.pi * t / 240 + 1)
        return np.array([[s, 0, ox], [0, s, oy], [0, 0, 1]])
    if scene == "handheld":  # a few px of shake and a fraction of a degree of roll
        jitter = [np.sin(2 * np.pi * t / p + k) for p, k in ((11, 0), (17, 2), (29, 4))]
        dx, dy = 0.006 * w * (jitter[0] + jitter[1]), 0.006 * h * (jitter[1] + jitter[2])
        a = np.deg2rad(0.4) * jitter[2]
        return np.array([[0.8 * np.cos(a), -0.8 * np.sin(a), 0.35 * w + dx],
                         [0.8 * np.sin(a), 0.8 * np.cos(a), 0.35 * h + dy], [0, 0, 1]])  # fmt: skip
    return np.array([[0.8, 0, 0.35 * w], [0, 0.8, 0.35 * h], [0, 0, 1]])


def _object_box(t: int, size: tuple[int, int]) -> tuple[int, int, int]:
    """(x, y, side) of the moving cat: left to right, bobbing."""
    w, h = size
    side = h // 2
    return int(0.05 * w + t * w / 160), int(0.25 * h + 0.08 * h * np.sin(t / 6)), side


def make_scene(scene: str, frames: int, size: tuple[int, int]) -> Any:
    """Yield ``frames`` (H, W, 3) uint8 frames of ``scene`` (a generator: any length, flat memory)."""
    import cv2
    from skimage import data

    w, h = size
    photo = cv2.resize(
        getattr(data, _PHOTO[scene])(), (round(1.5 * w), round(1.5 * h)), interpolation=cv2.INTER_AREA
    )
    cat = data.chelsea()[40:240, 120:320]
    for t in range(frames):
        a = _camera(scene, t, size)
        rgb = cv2.warpAffine(photo, a[:2], size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        if scene == "object":
            x, y, side = _object_box(t % 140, size)
            patch = cv2.resize(cat, (side, side), interpolation=cv2.INTER_AREA)
            x1, y1 = min(w, x + side), min(h, y + side)
            rgb[y:y1, x:x1] = patch[: y1 - y, : x1 - x]
        if _NOISE[scene]:
            noise = np.random.default_rng(t).normal(0, _NOISE[scene], rgb.shape)
            rgb = np.clip(rgb + noise, 0, 255).astype(np.uint8)
        yield np.ascontiguousarray(rgb)


def true_motion(scene: str, t: int, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(map_x, map_y, visible): where each pixel of frame t was in frame t-1, and whether it was seen."""
    h, w = shape
    grid_y, grid_x = np.indices((h, w), dtype=np.float64)
    back = np.linalg.inv(_camera(scene, t - 1, (w, h))) @ _camera(scene, t, (w, h))
    map_x = back[0, 0] * grid_x + back[0, 1] * grid_y + back[0, 2]
    map_y = back[1, 0] * grid_x + back[1, 1] * grid_y + back[1, 2]
    visible = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    if scene == "object":
        (x0, y0, side), (x1, y1, _) = _object_box((t - 1) % 140, (w, h)), _object_box(t % 140, (w, h))
        now = (grid_x >= x1) & (grid_x < x1 + side) & (grid_y >= y1) & (grid_y < y1 + side)
        before = (grid_x >= x0) & (grid_x < x0 + side) & (grid_y >= y0) & (grid_y < y0 + side)
        map_x, map_y = np.where(now, grid_x - (x1 - x0), map_x), np.where(now, grid_y - (y1 - y0), map_y)
        visible &= now | ~before  # background just uncovered by the cat was not seen
        visible &= (t % 140) != 0  # the cat jumps back to the left: no true motion for it
    return map_x.astype(np.float32), map_y.astype(np.float32), visible


class InvertRunner(Runner):
    """A real Runner (the base class checks every feed as for a model) whose model is ``1 - x``."""

    def __init__(self) -> None:
        super().__init__(ModelMetadata("johnson", ("invert",), ExportSpec("johnson"), nst.__version__, {}))

    def _infer(self, feed: Feed) -> Feed:
        return {"stylized": 1.0 - feed["image"]}


def write_clip(path: Path, frames: Any, size: tuple[int, int], rate: Fraction, crf: int = 18,
               preset: str = "ultrafast") -> int:  # fmt: skip
    """Encode RGB frames (an iterable) as H.264 into ``path``; returns the frame count."""
    import av

    count = 0
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            count += 1
        container.mux(stream.encode(None))
    return count


def decode_all(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


# --- rss: peak memory at 10 s and 120 s of input ------------------------------------------


def rss_child(clip: Path, out: Path, consistency: str) -> dict[str, Any]:
    """One measurement in a fresh process: peak RSS before and during the run, and RSS over time."""
    from nst.measure import peak_rss_mb, reset_peak_rss
    from nst.runtime.video import VideoOptions, stylize_video

    runner = InvertRunner()
    import av  # noqa: F401 (loaded before the baseline, as the run would)
    import cv2  # noqa: F401

    baseline = peak_rss_mb()
    reset_peak_rss()
    samples: list[tuple[int, float]] = []

    def on_frame(done: int, total: int | None) -> None:
        if done % 300 == 0:
            samples.append((done, _rss_mb()))

    result = stylize_video(
        VideoOptions(clip, out, consistency=consistency, force=True), on_frame, runner=runner
    )
    return {
        "frames": result.frames, "seconds": round(result.seconds, 1), "fps": round(result.fps, 1),
        "baseline_peak_rss_mb": round(baseline or 0, 1), "peak_rss_mb": round(peak_rss_mb() or 0, 1),
        "rss_mb_every_300_frames": [round(mb, 1) for _, mb in samples],
    }  # fmt: skip


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_rss(work: Path, lengths: tuple[int, ...] = (10, 120)) -> dict[str, Any]:
    rows = []
    for seconds in lengths:
        clip = work / f"pan720p_{seconds}s.mp4"
        frames = write_clip(clip, make_scene("pan", seconds * 30, (1280, 720)), (1280, 720), Fraction(30))
        for consistency in ("none", "flow"):
            cmd = [sys.executable, __file__, "_rss-child", str(clip), str(work / "out.mp4"), consistency]
            record = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            rows.append(
                {"input_seconds": seconds, "input_frames": frames, "consistency": consistency, **record}
            )
            print(json.dumps(rows[-1]), flush=True)
        clip.unlink()
    return {"clip": "1280x720 @ 30 fps H.264, a photo panned and zoomed", "runner": "InvertRunner (1 - x)",
            "rows": rows}  # fmt: skip


# --- speed: frames/s at 720p --------------------------------------------------------------


def bench_speed(work: Path, seconds: int = 2) -> dict[str, Any]:
    from nst.runtime.video import VideoOptions, stylize_video

    clip = work / "pan720p.mp4"
    write_clip(clip, make_scene("pan", seconds * 24, (1280, 720)), (1280, 720), Fraction(24))
    rows = []
    for runner_name in ("bundled", "invert"):
        for consistency in ("none", "flow"):
            runner = InvertRunner() if runner_name == "invert" else None
            options = VideoOptions(clip, work / "out.mp4", consistency=consistency, force=True)
            result = stylize_video(options, runner=runner)
            rows.append({"runner": runner_name, "consistency": consistency, "frames": result.frames,
                         "seconds": round(result.seconds, 2), "fps": round(result.fps, 2)})  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    return {"clip": f"1280x720 @ 24 fps, {seconds} s", "batch_size": 4, "rows": rows}


# --- flicker: temporal error, none vs flow ------------------------------------------------


def flicker_metrics(inputs: list[np.ndarray], outputs: list[np.ndarray], reference: list[np.ndarray],
                    scene: str) -> dict[str, float]:  # fmt: skip
    """Temporal error with DIS flow of the inputs and with the scene's true motion, plus fidelity."""
    import cv2

    from nst.runtime.video.flow import temporal_error

    true_errors = []
    for t in range(1, len(outputs)):
        map_x, map_y, mask = true_motion(scene, t, outputs[t].shape[:2])
        prev = outputs[t - 1].astype(np.float32)
        warped = cv2.remap(prev, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        diff = np.abs(outputs[t].astype(np.float32) - warped).mean(axis=2)
        true_errors.append(float(diff[mask].mean()))
    return {
        "warp_error_dis": round(temporal_error(inputs, outputs), 3),
        "warp_error_true": round(float(np.mean(true_errors)), 3),
        "change_vs_per_frame": round(_mean_abs(outputs, reference), 3),
        "sharpness_vs_per_frame": round(_sharpness(outputs) / _sharpness(reference), 3),
    }


def _mean_abs(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(x.astype(np.float32) - y).mean() for x, y in zip(a, b, strict=True)]))


def _sharpness(frames: list[np.ndarray]) -> float:
    """Mean squared Laplacian of luma (high-frequency energy)."""
    import cv2

    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in frames]
    return float(np.mean([np.square(cv2.Laplacian(g, cv2.CV_32F)).mean() for g in gray]))


def bench_flicker(work: Path, frames: int = 48, size: tuple[int, int] = (320, 240),
                  alphas: tuple[float, ...] = (0.5, 0.7, 0.85)) -> dict[str, Any]:  # fmt: skip
    from nst.runtime.video import VideoOptions, stylize_video

    variants = [("none", 0.0, 0.5, True), ("flow", 0.5, 0.5, False)]  # (mode, alpha, flow scale, keep detail)
    variants += [("flow", a, 0.5, True) for a in alphas] + [("flow", 0.7, 1.0, True)]
    rows = []
    for scene in SCENES:
        clip = work / f"{scene}.mp4"
        write_clip(clip, make_scene(scene, frames, size), size, Fraction(24), crf=18, preset="medium")
        inputs = decode_all(clip)
        floor = flicker_metrics(inputs, inputs, inputs, scene)
        rows.append({"scene": scene, "mode": "input", **floor})
        reference: list[np.ndarray] | None = None
        for mode, alpha, scale, detail in variants:
            out = work / f"{scene}_{mode}.mp4"
            options = VideoOptions(clip, out, consistency=mode, blend=alpha, flow_scale=scale,
                                   keep_detail=detail, force=True)  # fmt: skip
            stylize_video(options)
            outputs = decode_all(out)
            reference = outputs if reference is None else reference
            label = "none" if mode == "none" else f"flow a={alpha}" + ("" if detail else " plain")
            label += " full-res flow" if scale == 1.0 else ""
            rows.append({"scene": scene, "mode": label, **flicker_metrics(inputs, outputs, reference, scene)})
            print(json.dumps(rows[-1]), flush=True)
    return {"frames": frames, "size": f"{size[0]}x{size[1]}", "model": "bundled default_model.onnx",
            "rows": rows}  # fmt: skip


def _load_note(section: dict[str, Any]) -> list[str]:
    load = section.get("load_average_1_5_15_min_at_start")
    return [f"Load average (1/5/15 min) at the start: {load} on {section['machine']['cores']} cores "
            "(a shared machine: frames/s move with other work).", ""] if load else []  # fmt: skip


def write_markdown(results: dict[str, Any], path: Path) -> None:
    """benchmarks/video.md from the JSON records."""
    md = ["# Video benchmarks", "", "Written by `scripts/bench_video.py` from [video.json](video.json); "
          "commands, machine and wall time of each section are in the JSON.", ""]  # fmt: skip
    if "rss" in results:
        r = results["rss"]
        md += [f"## Memory over length ({r['clip']}; runner: {r['runner']})", "",
               "| input | frames | consistency | frames/s | peak RSS MB | RSS MB every 300 frames |",
               "|---|---:|---|---:|---:|---|"]  # fmt: skip
        md[-2:-2] = _load_note(r)
        for row in r["rows"]:
            every = ", ".join(f"{mb:.0f}" for mb in row["rss_mb_every_300_frames"])
            md.append(f"| {row['input_seconds']} s | {row['frames']} | {row['consistency']} | {row['fps']} | "
                      f"{row['peak_rss_mb']:.0f} | {every} |")  # fmt: skip
        md.append("")
    if "speed" in results:
        r = results["speed"]
        md += [f"## Throughput ({r['clip']}, batch {r['batch_size']})", "",
               *_load_note(r), "| runner | consistency | frames | seconds | frames/s |",
               "|---|---|---:|---:|---:|"]  # fmt: skip
        md += [f"| {x['runner']} | {x['consistency']} | {x['frames']} | {x['seconds']} | {x['fps']} |"
               for x in r["rows"]]  # fmt: skip
        md.append("")
    if "flicker" in results:
        md += _flicker_tables(results["flicker"])
    if "temporal" in results:  # written by scripts/bench_video_temporal.py
        md += __import__("bench_video_temporal").temporal_tables(results["temporal"])
    path.write_text("\n".join(md) + "\n")


def _flicker_tables(r: dict[str, Any]) -> list[str]:
    keys = ("warp_error_dis", "warp_error_true", "change_vs_per_frame", "sharpness_vs_per_frame")
    head = ["| mode | warp error, DIS flow | warp error, true motion | change vs per-frame | sharpness |",
            "|---|---:|---:|---:|---:|"]  # fmt: skip
    md = [f"## Flicker ({r['size']}, {r['frames']} frames, {r['model']})", "",
          "Warp error: mean |O_t - W(O_t-1)| over non-occluded pixels in 8-bit levels, warped with the "
          "DIS flow of the input frames (full resolution) or with the scene's true motion. Change: mean "
          "|O_t - S_t| against per-frame stylization. Sharpness: Laplacian energy relative to per-frame "
          "stylization. `input` is the input clip itself (the floor: noise and resampling). Flow runs at "
          "half resolution unless `full-res flow`; `plain` is the blend without detail restoration.", "",
          "Mean over the scenes (efficiency: flicker removed per level of change from the per-frame "
          "output, true-motion error):", "",
          "| mode | warp error, DIS flow | warp error, true motion | change vs per-frame | min sharpness "
          "| efficiency |", "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    summary = _flicker_summary(r["rows"])
    for mode, s in summary.items():
        md.append(f"| {mode} | {s['dis']:.2f} | {s['true']:.2f} | {s['change']:.2f} | {s['sharp']:.2f} | "
                  f"{s['efficiency']:.3f} |")  # fmt: skip
    eligible = {m: s for m, s in summary.items() if m.startswith("flow") and "full-res" not in m}
    eligible = {m: s for m, s in eligible.items() if s["sharp"] >= 2 / 3}
    if eligible:
        best = max(eligible, key=lambda m: eligible[m]["efficiency"])
        md += ["", f"Default rule: among half-resolution flow settings that keep >= 2/3 of the net's detail "
               f"energy on every scene, the most efficient: **{best}**."]  # fmt: skip
    for scene in dict.fromkeys(row["scene"] for row in r["rows"]):
        md += ["", f"### {scene}", "", *head]
        md += [f"| {x['mode']} | " + " | ".join(f"{x[k]:.3f}" for k in keys) + " |"
               for x in r["rows"] if x["scene"] == scene]  # fmt: skip
    return md


def _flicker_summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per mode: mean errors and change, min sharpness, mean efficiency over scenes."""
    none = {x["scene"]: x["warp_error_true"] for x in rows if x["mode"] == "none"}
    out = {}
    for mode in dict.fromkeys(x["mode"] for x in rows):
        sel = [x for x in rows if x["mode"] == mode]
        gains = [(none[x["scene"]] - x["warp_error_true"]) / x["change_vs_per_frame"]
                 for x in sel if x["change_vs_per_frame"] > 0]  # fmt: skip
        out[mode] = {
            "dis": float(np.mean([x["warp_error_dis"] for x in sel])),
            "true": float(np.mean([x["warp_error_true"] for x in sel])),
            "change": float(np.mean([x["change_vs_per_frame"] for x in sel])),
            "sharp": min(x["sharpness_vs_per_frame"] for x in sel),
            "efficiency": float(np.mean(gains)) if gains else 0.0,
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["rss", "speed", "flicker", "all", "report", "_rss-child"])
    parser.add_argument("args", nargs="*")
    args = parser.parse_args()
    if args.what == "_rss-child":
        print(json.dumps(rss_child(Path(args.args[0]), Path(args.args[1]), args.args[2])))
        return 0
    from nst.measure import machine_description

    path = OUT / "video.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    sections = {"rss": bench_rss, "speed": bench_speed, "flicker": bench_flicker}
    chosen = list(sections) if args.what == "all" else [] if args.what == "report" else [args.what]
    with tempfile.TemporaryDirectory(prefix="nst-bench-video-") as tmp:
        for name in chosen:
            load = [round(x, 2) for x in os.getloadavg()]  # other work on the machine skews frames/s
            start = time.perf_counter()
            results[name] = sections[name](Path(tmp))
            results[name]["wall_seconds"] = round(time.perf_counter() - start, 1)
            results[name]["command"] = f".venv/bin/python scripts/bench_video.py {name}"
            results[name]["machine"] = machine_description()
            results[name]["load_average_1_5_15_min_at_start"] = load
            path.write_text(json.dumps(results, indent=2) + "\n")
    write_markdown(results, OUT / "video.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
