"""Figures and image grids of docs/FAMILIES.md (style-swap, super-resolution).

Runs exported ONNX models with ONNX Runtime on the held-out photos (data/heldout) and writes
``docs/images/*.png`` plus a JSON of every number quoted in the docs::

    python scripts/families_report.py styleswap --model /tmp/runs/ss.onnx \
        --johnson /tmp/runs/johnson.onnx --out docs/images
    python scripts/families_report.py sr --model /tmp/runs/sr4.onnx --model /tmp/runs/sr8.onnx \
        --out docs/images
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from nst.io import read_image, write_image
from nst.runtime.onnxrt import OrtRunner
from nst.train.data import resize_short_side, to_tensor
from nst.train.plots import image_grid

HELDOUT = Path("data/heldout")
STYLES = (Path("nst/assets/style_swirl.png"), Path("data/content/coffee.png"))


def _load(path: Path, short: int) -> np.ndarray:
    """(H, W, 3) float32, short side ``short``."""
    return resize_short_side(read_image(path).rgb, short)


def _nchw(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], np.float32)


def _pan_frames(rgb: np.ndarray, size: int, step: int, count: int) -> list[np.ndarray]:
    """Crops sliding right by ``step`` px: a synthetic camera pan."""
    return [rgb[:size, i * step : i * step + size] for i in range(count)]


def pan_consistency(run: object, frames: list[np.ndarray], step: int) -> float:
    """Mean |out_t - out_{t+1}| over the region both frames see (aligned by the pan shift)."""
    outs = [run(f) for f in frames]  # type: ignore[operator]
    diffs = [np.abs(a[:, step:] - b[:, :-step]).mean() for a, b in itertools.pairwise(outs)]
    return float(np.mean(diffs))


def styleswap_report(model: Path, johnson: Path | None, out: Path) -> dict[str, object]:
    ss = OrtRunner(model, providers="cpu")
    styles = [_load(p, 128) for p in STYLES]
    photos = [_load(p, 192)[:192, :192] for p in sorted(HELDOUT.glob("*.png"))]
    rows = [[to_tensor(p)[None] for p in photos]]
    for style in styles:
        outs = [ss.infer({"image": _nchw(p), "style": _nchw(style)})["stylized"] for p in photos]
        rows.append([torch.from_numpy(o) for o in outs])
    write_image(out / "styleswap_grid.png", image_grid([torch.cat(r) for r in rows]), force=True)
    style_row = torch.cat([F.interpolate(to_tensor(s)[None], size=(96, 128)) for s in styles])
    write_image(out / "styleswap_styles.png", image_grid([style_row]), force=True)

    pan_src = _load(HELDOUT / "flower.png", 160)
    style = _nchw(styles[0])
    jn = OrtRunner(johnson, providers="cpu") if johnson is not None else None

    def swap_frame(f: np.ndarray) -> np.ndarray:
        return ss.infer({"image": _nchw(f), "style": style})["stylized"][0].transpose(1, 2, 0)

    def johnson_frame(f: np.ndarray) -> np.ndarray:
        assert jn is not None  # script-internal
        return jn.infer({"image": _nchw(f)})["stylized"][0].transpose(1, 2, 0)

    results: dict[str, object] = {"pan": "flower.png short side 160, 12 crops of 128x128"}
    for step in (4, 3):
        frames = _pan_frames(pan_src, 128, step, 12)
        row = {"input": pan_consistency(lambda f: f, frames, step),
               "styleswap": pan_consistency(swap_frame, frames, step)}  # fmt: skip
        if jn is not None:
            row["johnson"] = pan_consistency(johnson_frame, frames, step)
        results[f"pan_step_{step}px"] = row
    return results


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


def sr_report(models: list[Path], out: Path, vgg_weights: str | None) -> dict[str, object]:
    from skimage.metrics import structural_similarity

    from nst.train.losses import relative_mse
    from nst.train.models.sr import degrade
    from nst.train.vgg import load_vgg16

    vgg = load_vgg16(("relu2_2",), vgg_weights)
    results: dict[str, object] = {}
    for model in models:
        runner = OrtRunner(model, providers="cpu")
        scale = int(json.loads(runner.metadata.extra["nst.model_config"])["scale"])
        per_image, grid = [], []
        for path in sorted(HELDOUT.glob("*.png")):
            hr = torch.from_numpy(_load(path, 288).transpose(2, 0, 1))[None]  # (1, 3, H, W)
            h, w = (hr.shape[2] // 8) * 8, (hr.shape[3] // 8) * 8
            hr = hr[:, :, :h, :w].contiguous()
            low = degrade(hr, scale)
            bicubic = F.interpolate(low, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)
            net = torch.from_numpy(runner.infer({"image": low.numpy()})["upscaled"])
            row = {"image": path.name}
            for name, img in (("bicubic", bicubic), ("net", net)):
                a, b = img[0].permute(1, 2, 0).numpy(), hr[0].permute(1, 2, 0).numpy()
                with torch.no_grad():
                    feat = float(relative_mse(vgg(img)["relu2_2"], vgg(hr)["relu2_2"]))
                row[name] = {"psnr": _psnr(a, b), "ssim": float(structural_similarity(a, b, channel_axis=2,
                             data_range=1.0)), "feature_relu2_2": feat}  # fmt: skip
            per_image.append(row)
            nearest = F.interpolate(low, scale_factor=scale, mode="nearest")
            grid.append(torch.cat([nearest, bicubic, net, hr])[:, :, :192, :192])
        write_image(out / f"sr_x{scale}_grid.png", image_grid(grid), force=True)  # rows: images
        mean = {
            k: {m: float(np.mean([r[k][m] for r in per_image])) for m in ("psnr", "ssim", "feature_relu2_2")}  # type: ignore[index]
            for k in ("bicubic", "net")
        }
        results[f"x{scale}"] = {"mean": mean, "per_image": per_image}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("family", choices=["styleswap", "sr"])
    parser.add_argument("--model", type=Path, action="append", required=True)
    parser.add_argument("--johnson", type=Path, default=None)
    parser.add_argument("--vgg-weights", default=None)
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.family == "styleswap":
        results = styleswap_report(args.model[0], args.johnson, args.out)
    else:
        results = sr_report(args.model, args.out, args.vgg_weights)
    (args.out / f"{args.family}_results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2)[:3000])


if __name__ == "__main__":
    main()
