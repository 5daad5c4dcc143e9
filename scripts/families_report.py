"""Figures and image grids of docs/FAMILIES.md (style-swap, super-resolution).

Runs exported ONNX models with ONNX Runtime on the held-out photos (data/heldout) and writes
``docs/images/*.png`` plus a JSON of every number quoted in the docs::

    python scripts/families_report.py styleswap --model /tmp/runs/ss.onnx \
        --johnson /tmp/runs/johnson.onnx --out docs/images
    python scripts/families_report.py sr --model /tmp/runs/sr4.onnx --out docs/images
    python scripts/families_report.py texture --model /tmp/runs/tx.onnx --johnson /tmp/runs/johnson.onnx
    python scripts/families_report.py texture_style --model /tmp/runs/txs.onnx \
        --johnson nst/assets/default_model.onnx
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
from nst.runtime.onnxrt.runner import OrtRunner
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
            from nst.calibration.metrics import psnr

            for name, img in (("bicubic", bicubic), ("net", net)):
                a, b = img[0].permute(1, 2, 0).numpy(), hr[0].permute(1, 2, 0).numpy()
                with torch.no_grad():
                    feat = float(relative_mse(vgg(img)["relu2_2"], vgg(hr)["relu2_2"]))
                row[name] = {"psnr": psnr(a, b), "ssim": float(structural_similarity(a, b, channel_axis=2,
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


def _median_ms(fn: object, repeats: int = 10) -> float:
    import time

    fn()  # type: ignore[operator]  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def _onnx_values(path: Path) -> int:
    """Number of weight values stored in an ONNX model (its initializers)."""
    import onnx

    return int(sum(np.prod(t.dims) for t in onnx.load(str(path)).graph.initializer))


def texture_report(model: Path, johnson: Path | None, out: Path) -> dict[str, object]:

    from nst.contract.noise import seeded_noise
    from nst.runtime.synth import synthesize

    tex = OrtRunner(model, providers="cpu")
    scales = len(tex.spec.inputs)
    tiles = [torch.from_numpy(synthesize(tex, 256, 256, seed).transpose(2, 0, 1))[None] for seed in (1, 2, 3)]
    wide = torch.from_numpy(synthesize(tex, 768, 256, 7).transpose(2, 0, 1))[None]
    row = torch.cat(tiles, dim=3)  # (1, 3, 256, 768): seeds 1, 2, 3 side by side
    write_image(out / "texture_grid.png", image_grid([row, wide]), force=True)

    feeds = seeded_noise(scales, 1, 256, 256, 0)
    results: dict[str, object] = {
        "texture_onnx_initializer_values": _onnx_values(model),
        "texture_ms_256": _median_ms(lambda: tex.infer(feeds)),
    }
    if johnson is not None:
        jn = OrtRunner(johnson, providers="cpu")
        image = np.random.default_rng(0).random((1, 3, 256, 256), dtype=np.float32)
        results["johnson_onnx_initializer_values"] = _onnx_values(johnson)
        results["johnson_ms_256"] = _median_ms(lambda: jn.infer({"image": image}))
    return results


def texture_style_report(model: Path, johnson: Path | None, out: Path) -> dict[str, object]:
    """Grid: held-out photo | texture_style seeds 0 and 1 | Johnson; size and speed at 256^2."""

    from nst.runtime.stylizer import Stylizer

    photos = [_load(p, 256)[:256, :256] for p in sorted(HELDOUT.glob("*.png"))]
    columns = [[to_tensor(p)[None] for p in photos]]
    for seed in (0, 1):
        with Stylizer(model, providers="cpu", seed=seed) as st:
            columns.append([to_tensor(st.stylize_array(p))[None] for p in photos])
    if johnson is not None:
        with Stylizer(johnson, providers="cpu") as st:
            columns.append([to_tensor(st.stylize_array(p))[None] for p in photos])
    rows = [torch.cat([col[i] for col in columns]) for i in range(len(photos))]  # one row per photo
    write_image(out / "texture_style_grid.png", image_grid(rows), force=True)

    image = np.random.default_rng(0).random((1, 3, 256, 256), dtype=np.float32)
    with Stylizer(model, providers="cpu") as st:
        results: dict[str, object] = {
            "texture_style_onnx_initializer_values": _onnx_values(model),
            "texture_style_ms_256": _median_ms(lambda: st.stylize_batch(image)),
        }
    if johnson is not None:
        with Stylizer(johnson, providers="cpu") as st:
            results["johnson_onnx_initializer_values"] = _onnx_values(johnson)
            results["johnson_ms_256"] = _median_ms(lambda: st.stylize_batch(image))
    return results


_MEMORY_CASE = """
import resource, sys, numpy as np, torch
from nst.train.vgg import load_vgg16
from nst.train.config import STYLE_LAYERS
case, size = sys.argv[1], int(sys.argv[2])
vgg = load_vgg16(STYLE_LAYERS)
rng = np.random.default_rng(0)
if case == "texture":  # one Adam training step of the paper's texture net (batch 1)
    from nst.train.losses import gram_matrix, style_loss
    from nst.train.models.texture import TextureNet
    net = TextureNet()
    opt = torch.optim.Adam(net.parameters())
    grams = {k: gram_matrix(v) for k, v in vgg(torch.rand(1, 3, size, size)).items()}
    for _ in range(2):
        opt.zero_grad()
        style_loss(vgg(net(*net.example_inputs(1, size, size, torch.Generator()).values())), grams).backward()
        opt.step()
elif case == "gatys":  # 3 L-BFGS iterations of Gatys et al. (history 100)
    from nst.train.gatys import GatysConfig, gatys_stylize
    img = rng.random((size, size, 3), dtype=np.float32)
    gatys_stylize(img, img, GatysConfig(iterations=3, style_size=size, device="cpu"), vgg=vgg)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def memory_report(size: int) -> dict[str, object]:
    """Peak RSS (MiB) of a texture-net training step and of Gatys L-BFGS at ``size``, minus
    a process that only loads VGG-16 (CPU; on GPU the same comparison holds for activations)."""
    import subprocess
    import sys

    def peak(case: str) -> int:
        out = subprocess.run([sys.executable, "-c", _MEMORY_CASE, case, str(size)], check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
        return int(out.strip().splitlines()[-1])

    base = peak("baseline")
    return {"size": size, "baseline_mib": base,
            **{f"{c}_extra_mib": peak(c) - base for c in ("texture", "gatys")}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("family", choices=["styleswap", "sr", "texture", "texture_style", "memory"])
    parser.add_argument("--model", type=Path, action="append", default=[])
    parser.add_argument("--johnson", type=Path, default=None)
    parser.add_argument("--vgg-weights", default=None)
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.family == "styleswap":
        results = styleswap_report(args.model[0], args.johnson, args.out)
    elif args.family == "memory":
        results = memory_report(256)
    elif args.family == "texture":
        results = texture_report(args.model[0], args.johnson, args.out)
    elif args.family == "texture_style":
        results = texture_style_report(args.model[0], args.johnson, args.out)
    else:
        results = sr_report(args.model, args.out, args.vgg_weights)
    (args.out / f"{args.family}_results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2)[:3000])


if __name__ == "__main__":
    main()
