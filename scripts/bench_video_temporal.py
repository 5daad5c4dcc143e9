"""Flicker of a temporally trained net vs frame-by-frame and flow blending (issue 16).

    .venv/bin/python scripts/bench_video_temporal.py init      # bundled ONNX -> runs/temporal/init.pt
    .venv/bin/python scripts/bench_video_temporal.py measure bundled|w0|w50  # E_warp, fps -> video.{md,json}
    .venv/bin/python scripts/bench_video_temporal.py report    # merge measure runs into benchmarks/video.*
    .venv/bin/python scripts/bench_video_temporal.py strip     # docs/images/video_strip.jpg
    .venv/bin/python scripts/bench_video_temporal.py fps       # nst bench --video's job on a 640x360 pan

The two nets compared are fine-tuned from the bundled model with the same seed, data and step
count, with and without ``--temporal-weight`` (commands in docs/VIDEO.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / "runs" / "temporal"


def onnx_to_checkpoint(model: Path, out: Path) -> None:
    """Rebuild a johnson checkpoint from an exported model's initializers and metadata.

    The bundled model ships as ONNX only; its initializers carry the PyTorch parameter names,
    so the state dict is read back exactly (checked: the rebuilt net matches ORT's output).
    """
    import json

    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    from nst.train.checkpoint import save_checkpoint
    from nst.train.models import build_model

    proto = onnx.load(str(model))
    meta = {p.key: p.value for p in proto.metadata_props}
    family, model_config = meta["nst.family"], json.loads(meta["nst.model_config"])
    net = build_model(family, model_config)
    weights = {i.name: torch.from_numpy(np.array(numpy_helper.to_array(i))) for i in proto.graph.initializer}
    state = {k: weights[k] for k in net.state_dict()}
    net.load_state_dict(state)
    save_checkpoint(out, {
        "family": family, "model_config": model_config, "train_config": json.loads(meta["nst.train_config"]),
        "styles": json.loads(meta["nst.styles"]), "state_dict": net.state_dict(),
        "step": int(meta.get("nst.train_step", 0)), "history": {"step": []},
    })  # fmt: skip
    _check_parity(net, model)


def _check_parity(net: object, model: Path) -> None:
    import numpy as np
    import onnxruntime as ort
    import torch

    x = np.random.default_rng(0).random((1, 3, 67, 91), dtype=np.float32)
    ref = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    with torch.no_grad():
        got = net.eval()(torch.from_numpy(x)).numpy()  # type: ignore[attr-defined]
    diff = float(np.abs(ref - got).max())
    if diff > 1e-4:
        raise SystemExit(f"rebuilt net differs from {model} by {diff}")
    print(f"rebuilt checkpoint matches the ONNX model (max abs diff {diff:.2g})")


# --- measure: E_warp, sharpness and frames/s per method ----------------------------------

#: (label, model, consistency, alpha); models: "bundled" or a run folder under runs/temporal
METHODS = (
    ("frame-by-frame", "bundled", "none", 0.0),
    ("flow a=0.5", "bundled", "flow", 0.5),
    ("flow a=0.7", "bundled", "flow", 0.7),
    ("flow a=0.85", "bundled", "flow", 0.85),
    ("fine-tuned, no temporal loss", "w0", "none", 0.0),
    ("temporal loss W=50", "w50", "none", 0.0),
    ("temporal loss W=50 + flow a=0.7", "w50", "flow", 0.7),
    ("fine-tuned 300 steps, no temporal loss", "w0_300", "none", 0.0),
    ("temporal loss W=50, 300 steps", "w50_300", "none", 0.0),
    ("temporal loss W=50, 300 steps + flow a=0.7", "w50_300", "flow", 0.7),
)
#: the run each trained model comes from: name -> (run folder, step)
TRAINED = {"w0": ("w0", 150), "w50": ("w50", 150), "w0_300": ("w0", 300), "w50_300": ("w50", 300)}
SCENES = ("pan", "noisy_pan", "handheld", "static", "object")
FRAMES, SIZE = 32, (320, 240)
EVAL = RUNS / "eval"


def _bench_video() -> Any:
    sys.path.insert(0, str(REPO / "scripts"))
    import bench_video

    return bench_video


def scene_frames(scene: str) -> Iterator[np.ndarray]:
    """bench_video's scenes, plus ``noisy_pan``: the pan with sensor noise (sigma 3 levels)."""
    bv = _bench_video()
    if scene != "noisy_pan":
        yield from bv.make_scene(scene, FRAMES, SIZE)
        return
    for t, rgb in enumerate(bv.make_scene("pan", FRAMES, SIZE)):
        noise = np.random.default_rng(1000 + t).normal(0, 3.0, rgb.shape)
        yield np.clip(rgb + noise, 0, 255).astype(np.uint8)


def true_warp_error(scene: str, frames: list[np.ndarray]) -> float:
    """E_warp with the scene's true motion instead of DIS flow (squared RGB norm, [0, 1])."""
    import cv2

    bv = _bench_video()
    errors = []
    for t in range(1, len(frames)):
        map_x, map_y, mask = bv.true_motion("pan" if scene == "noisy_pan" else scene, t, frames[t].shape[:2])
        prev = frames[t - 1].astype(np.float32) / 255
        warped = cv2.remap(prev, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        errors.append(float(np.square(frames[t].astype(np.float32) / 255 - warped).sum(axis=2)[mask].mean()))
    return float(np.mean(errors))


def model_path(name: str) -> Path:
    return REPO / "nst" / "assets" / "default_model.onnx" if name == "bundled" else RUNS / f"{name}.onnx"


def measure(models: set[str]) -> dict[str, Any]:
    """The methods of ``models`` on every scene through ``stylize_video``; outputs kept in runs/temporal/eval.

    Sharpness and change compare with the frame-by-frame output of the bundled model (made
    here when ``bundled`` is among ``models``, else read back from the eval folder).
    """
    from nst.runtime.video import VideoOptions, stylize_video
    from nst.runtime.video.metrics import warping_error

    bv = _bench_video()
    EVAL.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for scene in SCENES:
        clip = EVAL / f"{scene}.mp4"
        if "bundled" in models:  # the clips every other run reads (made once, with the reference)
            bv.write_clip(clip, scene_frames(scene), SIZE, Fraction(24), crf=18, preset="medium")
        while not (EVAL / f"{scene}_frame_by_frame.mp4").exists() and "bundled" not in models:
            time.sleep(10)
        inputs = bv.decode_all(clip)
        floor = warping_error(inputs, inputs)
        rows.append({"scene": scene, "method": "input", "e_warp_dis": floor.e_warp,
                     "e_warp_true": true_warp_error(scene, inputs)})  # fmt: skip
        reference_clip = EVAL / f"{scene}_frame_by_frame.mp4"  # made by the bundled run (renamed when done)
        reference = None if "bundled" in models else bv.decode_all(reference_clip)
        for label, model, consistency, alpha in METHODS:
            if model not in models:
                continue
            out = EVAL / f"{scene}_{_slug(label)}.mp4"
            options = VideoOptions(clip, out, model=model_path(model), providers="cpu",
                                   consistency=consistency, blend=alpha or 0.7, force=True)  # fmt: skip
            result = stylize_video(options)
            outputs = bv.decode_all(out)
            reference = outputs if reference is None else reference
            rows.append({
                "scene": scene, "method": label, "model": model_path(model).name, "consistency": consistency,
                "e_warp_dis": warping_error(inputs, outputs).e_warp,
                "e_warp_true": true_warp_error(scene, outputs),
                "sharpness_vs_frame_by_frame": bv._sharpness(outputs) / bv._sharpness(reference),
                "change_vs_frame_by_frame": bv._mean_abs(outputs, reference), "fps": round(result.fps, 2),
            })  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    return {"frames": FRAMES, "size": f"{SIZE[0]}x{SIZE[1]}", "rows": rows}


def bench_fps() -> None:
    """benchmarks/video-fps.{json,md}: what ``nst bench --video CLIP`` measures, on a 640x360 pan (1 s)."""
    from nst.bench.video_fps import run_video_bench
    from nst.runtime.stylizer import default_model_path

    bv = _bench_video()
    clip = RUNS / "pan640x360.mp4"
    RUNS.mkdir(parents=True, exist_ok=True)
    bv.write_clip(
        clip, bv.make_scene("pan", 24, (640, 360)), (640, 360), Fraction(24), crf=18, preset="medium"
    )

    def progress(what: str) -> None:
        print(f"  measuring {what}", flush=True)

    result = run_video_bench(clip, default_model_path(), out_dir=REPO / "benchmarks", tag="video-fps",
                             force=True, progress=progress)  # fmt: skip
    print(result.summary())


def merge_report() -> None:
    """Rows of every ``measure`` run (runs/temporal/eval/rows_*.json) over those already in
    benchmarks/video.json's ``temporal`` section; rewrites video.json and video.md."""
    from nst.measure import machine_description

    path = REPO / "benchmarks" / "video.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    old = results.get("temporal", {})
    rows = {(x["scene"], x["method"]): x for x in old.get("rows", [])}
    measured = dict(old.get("measured", {}))
    for part in sorted(EVAL.glob("rows_*.json")):
        section = json.loads(part.read_text())
        rows.update({(x["scene"], x["method"]): x for x in section["rows"]})
        measured[section["models"]] = {
            k: section[k] for k in ("wall_seconds", "load_average_1_5_15_min_at_start")
        }
    order = {m[0]: i for i, m in enumerate((("input",), *METHODS))}
    results["temporal"] = {
        "frames": FRAMES, "size": f"{SIZE[0]}x{SIZE[1]}", "machine": machine_description(),
        "command": ".venv/bin/python scripts/bench_video_temporal.py measure bundled|w0|w50",
        "measured": measured, "runs": {name: _run_record(name) for name in TRAINED},
        "rows": sorted(rows.values(), key=lambda x: (SCENES.index(x["scene"]), order[x["method"]])),
    }  # fmt: skip
    path.write_text(json.dumps(results, indent=2) + "\n")
    _bench_video().write_markdown(results, path.with_suffix(".md"))


def _run_record(name: str) -> dict[str, Any]:
    record = json.loads((RUNS / f"{name}.json").read_text()) if (RUNS / f"{name}.json").exists() else {}
    return record


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label).strip("_")


def temporal_tables(r: dict[str, Any]) -> list[str]:
    """Markdown for the ``temporal`` section of benchmarks/video.json (used by bench_video.py too)."""
    rows = r["rows"]
    methods = list(dict.fromkeys(x["method"] for x in rows))
    md = ["", f"## Flicker: E_warp, temporal loss vs flow blending ({r['size']}, {r['frames']} frames)", "",
          "E_warp (Lai et al. 2018): mean over frame pairs of "
          "sum_i M(i) ||O_t(i) - W(O_t-1)(i)||^2 / sum_i M(i), "
          "RGB in [0, 1], W and M from the DIS flow of the input (full resolution; `nst eval-video`) or from "
          "the scene's true motion. Sharpness: Laplacian energy relative to frame-by-frame (bundled model). "
          "frames/s: the whole `stylize_video` call at this size (ORT CPU, shared 2-core machine, "
          "load changing between runs). Trained nets: the bundled model fine-tuned for 150 steps "
          "(300 where labelled) with and without the temporal loss (docs/VIDEO.md). "
          f"Written by `{r.get('command', 'scripts/bench_video_temporal.py measure')}`.", "",
          "Mean over the scenes:", "",
          "| method | E_warp, DIS flow | E_warp, true motion | vs frame-by-frame (true) | min sharpness "
          "| change vs frame-by-frame | frames/s |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    base = np.mean([x["e_warp_true"] for x in rows if x["method"] == "frame-by-frame"])
    for m in methods:
        sel = [x for x in rows if x["method"] == m]
        dis, true = np.mean([x["e_warp_dis"] for x in sel]), np.mean([x["e_warp_true"] for x in sel])
        if m == "input":
            md.append(f"| input (floor) | {dis:.5f} | {true:.5f} | | | | |")
            continue
        sharp = min(x["sharpness_vs_frame_by_frame"] for x in sel)
        change = np.mean([x["change_vs_frame_by_frame"] for x in sel])
        fps = np.mean([x["fps"] for x in sel])
        md.append(
            f"| {m} | {dis:.5f} | {true:.5f} | {true / base:.2f}x | {sharp:.2f} | {change:.2f} | {fps:.1f} |"
        )
    md += ["", "E_warp (DIS flow) per scene:", "", "| method | " + " | ".join(SCENES) + " |",
           "|---|" + "---:|" * len(SCENES)]  # fmt: skip
    for m in methods:
        by_scene = {x["scene"]: x["e_warp_dis"] for x in rows if x["method"] == m}
        md.append(f"| {m} | " + " | ".join(f"{by_scene.get(s, float('nan')):.5f}" for s in SCENES) + " |")
    return [*md, ""]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("init", "measure", "report", "strip", "fps"))
    parser.add_argument(
        "models", nargs="?", choices=("bundled", *TRAINED, "trained", "all"), default="all",
        help="measure: the methods of the bundled model, of one trained net, of both, or all",
    )  # fmt: skip
    args = parser.parse_args()
    if args.what == "init":
        RUNS.mkdir(parents=True, exist_ok=True)
        onnx_to_checkpoint(REPO / "nst" / "assets" / "default_model.onnx", RUNS / "init.pt")
        print(f"-> {RUNS / 'init.pt'}")
    elif args.what == "measure":
        load = [round(x, 2) for x in os.getloadavg()]
        start = time.perf_counter()
        models = {"trained": set(TRAINED), "all": {"bundled", *TRAINED}}.get(args.models, {args.models})
        section = measure(models)
        section.update(models=args.models, wall_seconds=round(time.perf_counter() - start, 1),
                       load_average_1_5_15_min_at_start=load)  # fmt: skip
        (EVAL / f"rows_{args.models}.json").write_text(json.dumps(section, indent=2) + "\n")
        merge_report()
    elif args.what == "report":
        merge_report()
    elif args.what == "fps":
        bench_fps()
    else:
        sys.path.insert(0, str(REPO / "scripts"))
        from bench_video_strip import write_strip

        write_strip(EVAL, REPO / "docs" / "images" / "video_strip.jpg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
