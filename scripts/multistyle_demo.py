"""Train small CIN and StyleBank models on data/content, add a style to each, export both and
draw the figures and numbers of docs/MULTISTYLE.md.

    NST_VGG_WEIGHTS=../shared/weights/vgg16_imagenet_features.pth .venv/bin/python \
        scripts/multistyle_demo.py --steps 160 --add-steps 60 --crop 64 --base-channels 8

Writes ``docs/images/multistyle_*.png`` and ``docs/multistyle_results.json``. Styles: the
bundled swirl plus two procedural ones drawn here (a Voronoi "mosaic" and warm "waves"), so
every image is freely redistributable.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def mosaic(size: int, seed: int = 3) -> np.ndarray:
    """Voronoi cells in saturated colours with dark grout."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, size, (90, 2))
    colours = rng.choice(np.array([[220, 40, 40], [250, 200, 30], [30, 90, 200], [30, 160, 90],
                                   [240, 120, 20], [240, 240, 230]]), 90)  # fmt: skip
    yy, xx = np.mgrid[0:size, 0:size]
    d = (yy[..., None] - points[:, 0]) ** 2 + (xx[..., None] - points[:, 1]) ** 2  # (H, W, P)
    order = np.sort(d, axis=2)
    edge = np.sqrt(order[..., 1]) - np.sqrt(order[..., 0]) < 3.0
    image = colours[np.argmin(d, axis=2)].astype(np.float32)
    image[edge] = (25, 20, 30)
    return image.astype(np.uint8)


def waves(size: int) -> np.ndarray:
    """Warm concentric bands with a wobble."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    r = np.hypot(yy - 0.3, xx - 0.4) * 18 + 1.5 * np.sin(xx * 9) + np.cos(yy * 7)
    band = 0.5 + 0.5 * np.sin(r)
    rgb = np.stack([0.55 + 0.45 * band, 0.2 + 0.5 * band**2, 0.35 * (1 - band)], axis=2)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def make_styles(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "swirl.png", folder / "mosaic.png", folder / "waves.png"]
    Image.open(REPO / "nst/assets/style_swirl.png").convert("RGB").resize((256, 256)).save(paths[0])
    Image.fromarray(mosaic(256)).save(paths[1])
    Image.fromarray(waves(256)).save(paths[2])
    return paths


def train_family(family: str, model: dict, styles: list[Path], out: Path, args: argparse.Namespace) -> dict:
    """Full run on styles[:2], then --add-style styles[2]; timings and trainable parameters."""
    from nst.train.config import TrainConfig
    from nst.train.loop import train
    from nst.train.tasks import make_task
    from nst.train.tasks_multistyle import add_style_config

    base = TrainConfig(
        family=family, content_dir=str(REPO / "data/content"), styles=tuple(str(s) for s in styles[:2]),
        model=model, steps=args.steps, batch_size=2, image_size=args.crop, style_size=256,
        sample_every=20, checkpoint_every=args.steps, device=args.device, log_every=10, lr=args.lr,
        style_weight=args.style_weight, tv_weight=args.tv_weight,
    )  # fmt: skip
    full = train(base, out / f"{family}_full", force=True, progress=False)
    grown = add_style_config(full.checkpoint, (str(styles[2]),), replace(base, steps=args.add_steps))
    added = train(grown, out / f"{family}_add", force=True, progress=False)
    import torch

    counts = {}
    for name, cfg in (("full", base), ("add_style", grown)):
        task = make_task(cfg, torch.device("cpu"))
        counts[name] = task.trained_parameter_count()  # type: ignore[attr-defined]
    return {
        "full": {"steps": full.steps, "seconds": round(full.seconds, 1),
                 "s_per_step": full.seconds / full.steps,
                 "trainable_params": counts["full"], "final": full.final_losses},
        "add_style": {"steps": added.steps, "seconds": round(added.seconds, 1),
                      "s_per_step": added.seconds / added.steps, "trainable_params": counts["add_style"],
                      "final": added.final_losses},
        "checkpoint": str(added.checkpoint),
    }  # fmt: skip


def figures(onnx: dict[str, Path], styles: list[Path], docs: Path) -> None:
    """Interpolation strip (CIN) and region fusion (StyleBank) on the bundled sample photo."""
    from nst.io import read_image
    from nst.runtime.stylizer import Stylizer

    photo = read_image(REPO / "nst/assets/sample_chelsea.jpg").rgb
    h = 128
    w = round(photo.shape[1] * h / photo.shape[0])
    photo = (
        np.asarray(Image.fromarray((photo * 255).astype(np.uint8)).resize((w, h))).astype(np.float32) / 255
    )
    thumb = [np.asarray(Image.open(s).resize((h, h))).astype(np.float32) / 255 for s in styles[:2]]
    with Stylizer(onnx["cin"], providers="cpu") as s:
        tiles = [s.stylize_array(photo, style_weights=[1 - t, t, 0.0]) for t in np.linspace(0, 1, 5)]
    strip = np.concatenate([thumb[0], *tiles, thumb[1]], axis=1)
    Image.fromarray((strip * 255).astype(np.uint8)).save(docs / "multistyle_interpolation.png")
    masks = np.zeros((3, h, w), np.float32)
    masks[0, :, : w // 2] = 1
    masks[1, :, w // 2 :] = 1
    with Stylizer(onnx["stylebank"], providers="cpu") as s:
        a = s.stylize_array(photo, style=0)
        b = s.stylize_array(photo, style=1)
        fused = s.stylize_array(photo, masks=masks)
        mix = s.stylize_array(photo, style_weights=[0.5, 0.5, 0.0])
        added = s.stylize_array(photo, style=2)
    row = np.concatenate([a, b, fused, mix, added], axis=1)
    Image.fromarray((row * 255).astype(np.uint8)).save(docs / "multistyle_regions.png")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "runs/multistyle")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--add-steps", type=int, default=150)
    parser.add_argument("--crop", type=int, default=96)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--families", default="cin,stylebank")
    parser.add_argument("--base-channels", type=int, default=16)
    parser.add_argument("--style-weight", type=float, default=2.0)  # as scripts/build_bundled_model.sh
    parser.add_argument("--tv-weight", type=float, default=10.0)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, auto")
    parser.add_argument("--figures-only", action="store_true", help="draw from existing exports")
    args = parser.parse_args()
    from nst.export.onnx_export import export_checkpoint

    styles = make_styles(args.out / "styles")
    docs = REPO / "docs/images"
    docs.mkdir(parents=True, exist_ok=True)
    width = args.base_channels
    models = {"cin": {"base_channels": width, "num_residual": 3}, "stylebank": {"base_channels": width}}
    results_path = REPO / "docs/multistyle_results.json"
    for family in [] if args.figures_only else args.families.split(","):
        start = time.perf_counter()
        entry = train_family(family, models[family], styles, args.out, args)
        exported = export_checkpoint(entry["checkpoint"], args.out / f"{family}.onnx", force=True)
        entry["export"] = {
            "seconds": round(exported.seconds, 1),
            "max_abs_diff": max(c.max_abs_diff for c in exported.checks),
        }
        entry["total_seconds"] = round(time.perf_counter() - start, 1)
        entry["config"] = {"steps": args.steps, "add_steps": args.add_steps, "crop": args.crop,
                           "batch": 2, "lr": args.lr, "model": models[family],
                           "style_weight": args.style_weight, "tv_weight": args.tv_weight}  # fmt: skip
        print(family, json.dumps(entry, indent=1), flush=True)
        # read-modify-write per family, so single-family runs (in parallel) share the file
        results = json.loads(results_path.read_text()) if results_path.exists() else {}
        results[family] = entry
        results_path.write_text(json.dumps(results, indent=2) + "\n")
    onnx = {f: args.out / f"{f}.onnx" for f in ("cin", "stylebank")}
    if all(p.exists() for p in onnx.values()):
        figures(onnx, styles, docs)


if __name__ == "__main__":
    main()
