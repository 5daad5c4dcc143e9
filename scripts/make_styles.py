"""Draw the procedural style images of the multi-style default model (docs/MULTISTYLE_DEFAULT.md).

Each style is painted from scratch by numpy/scipy/Pillow from a fixed seed, so every pixel is
this project's own work (MIT, see nst/assets/STYLE_PROVENANCE.md). The looks are chosen to be
clearly different from each other and from ``style_swirl.png`` (made by make_style_image.py):

- ``mosaic``: stained glass, Voronoi cells of jewel colours with shaded glass and thick lead lines;
- ``waves``: bold brush strokes, layered ultramarine and teal wave bands with white crests;
- ``dots``: pointillism, small round dabs of pure colour over a sunset colour field;
- ``hatching``: pen and ink, cross-hatched sepia lines on cream paper, density by tone.

Example:
    python scripts/make_styles.py --out nst/assets --size 512 --seed 0
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw
from scipy.ndimage import gaussian_filter
from scipy.spatial import cKDTree

FloatArray = NDArray[np.float64]


def smooth_noise(rng: np.random.Generator, size: int, sigma: float) -> FloatArray:
    """Gaussian-filtered white noise rescaled to [0, 1]."""
    field = gaussian_filter(rng.standard_normal((size, size)), sigma, mode="wrap")
    return (field - field.min()) / (field.max() - field.min() + 1e-12)


def to_image(rgb: FloatArray) -> Image.Image:
    return Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))


def mosaic(size: int, rng: np.random.Generator) -> Image.Image:
    """Stained glass: jittered-grid Voronoi cells, per-cell shading and glass texture, dark leads."""
    n = 12
    grid = (np.stack(np.mgrid[0:n, 0:n], -1).reshape(-1, 2) + 0.5 + rng.uniform(-0.4, 0.4, (n * n, 2))) / n
    points = grid * size
    palette = np.array([[0.72, 0.06, 0.10], [0.05, 0.22, 0.62], [0.95, 0.72, 0.10],
                        [0.08, 0.50, 0.30], [0.45, 0.10, 0.55], [0.95, 0.45, 0.08],
                        [0.15, 0.60, 0.75], [0.92, 0.88, 0.70]])  # fmt: skip
    colours = palette[rng.integers(0, len(palette), len(points))]
    colours = np.clip(colours * rng.uniform(0.8, 1.15, (len(points), 1)), 0, 1)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    dist, index = cKDTree(points).query(np.stack([yy.ravel(), xx.ravel()], 1), k=2)
    dist = dist.reshape(size, size, 2)
    nearest = index[:, 0].reshape(size, size)
    rgb = colours[nearest]
    # light through the glass: brighter at the cell centre, darker towards the leads
    shade = 1.15 - 0.5 * np.clip(dist[..., 0] / (size / n), 0, 1)
    texture = 0.85 + 0.3 * smooth_noise(rng, size, 1.5) * smooth_noise(rng, size, 6.0)
    rgb = rgb * (shade * texture)[..., None]
    edge = dist[..., 1] - dist[..., 0]  # ~ twice the distance to the cell border
    lead = np.clip((edge - 4.0) / 2.0, 0, 1)[..., None]
    return to_image(rgb * lead + (1 - lead) * np.array([0.08, 0.07, 0.06]))


def waves(size: int, rng: np.random.Generator) -> Image.Image:
    """Bold brush strokes: wave bands of thick strokes, dark to light from top to bottom, with crests."""
    scale = 2  # drawn at twice the size, then downsampled (anti-aliasing)
    big = size * scale
    image = Image.new("RGB", (big, big), (14, 30, 70))
    draw = ImageDraw.Draw(image)
    blues = [(14, 34, 92), (22, 66, 140), (30, 110, 170), (60, 150, 190), (20, 90, 110), (230, 236, 240)]
    xs = np.linspace(-0.1, 1.1, 60)
    for row in range(46):
        y0 = (row / 46) * 1.1 - 0.05
        phase, freq, amp = rng.uniform(0, 2 * np.pi), rng.uniform(3, 6), rng.uniform(0.02, 0.06)
        for _ in range(7):  # strokes along one band
            start = rng.uniform(-0.1, 0.9)
            seg = xs[(xs >= start) & (xs <= start + rng.uniform(0.2, 0.5))]
            if len(seg) < 2:
                continue
            off = rng.uniform(-0.015, 0.015)
            ys = y0 + off + amp * np.sin(2 * np.pi * freq * seg + phase) + 0.02 * np.sin(17 * seg + row)
            crest = rng.random() < 0.18
            base = blues[5] if crest else blues[int(rng.integers(0, 5))]
            jitter = rng.integers(-18, 18, 3)
            colour = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(base, jitter, strict=True))
            width = int(rng.uniform(0.012, 0.03) * big) if not crest else int(rng.uniform(0.006, 0.012) * big)
            line = [(float(x * big), float(y * big)) for x, y in zip(seg, ys, strict=True)]
            draw.line(line, fill=colour, width=width, joint="curve")
            # bristle streaks: thin darker/lighter lines inside the stroke
            for k in range(3):
                shift = (k - 1) * width / 3
                tone = tuple(int(np.clip(c * rng.uniform(0.75, 1.2), 0, 255)) for c in colour)
                draw.line([(x, y + shift) for x, y in line], fill=tone, width=max(1, width // 8))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def dots(size: int, rng: np.random.Generator) -> Image.Image:
    """Pointillism: dabs of a few pure colours whose mix follows a smooth sunset-like field."""
    scale = 2
    big = size * scale
    tone = smooth_noise(rng, size, size / 10) * 0.6 + np.linspace(0, 0.4, size)[:, None]
    palette = np.array([[250, 210, 40], [240, 120, 30], [220, 40, 60], [150, 50, 160], [40, 80, 200],
                        [30, 160, 120], [250, 245, 225]])  # fmt: skip
    image = Image.new("RGB", (big, big), (245, 238, 220))
    draw = ImageDraw.Draw(image)
    count = 9000
    ys, xs = rng.uniform(0, size, count), rng.uniform(0, size, count)
    t = tone[ys.astype(int), xs.astype(int)]
    # each dab takes a palette colour near the local tone (optical mixing of neighbours)
    index = np.clip(np.round(t * (len(palette) - 2) + rng.normal(0, 0.7, count)), 0, len(palette) - 1)
    radius = rng.uniform(2.2, 3.6, count) * scale
    for y, x, i, r in zip(ys * scale, xs * scale, index.astype(int), radius, strict=True):
        colour = tuple(int(c) for c in palette[i])
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def hatching(size: int, rng: np.random.Generator) -> Image.Image:
    """Pen and ink: up to four hatch directions switched on as the tone gets darker."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    tone = 0.55 * smooth_noise(rng, size, size / 8) + 0.25 * smooth_noise(rng, size, size / 30)
    for _ in range(5):  # shaded spheres for some form
        cy, cx, r = rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85), rng.uniform(0.08, 0.2)
        d = np.hypot(yy - cy, xx - cx) / r
        light = np.hypot(yy - cy + 0.4 * r, xx - cx + 0.4 * r) / r
        tone = np.where(d < 1, 0.1 + 0.8 * np.clip(light / 1.6, 0, 1), tone)
    tone = (tone - tone.min()) / (tone.max() - tone.min())  # 0 = light, 1 = dark
    wobble = 2.5 * (smooth_noise(rng, size, 12) - 0.5)
    ink = np.zeros((size, size))
    spacing = 6.0
    for k, angle in enumerate((45, -45, 0, 90)):
        a = np.deg2rad(angle)
        u = (xx * np.cos(a) + yy * np.sin(a)) * size + wobble * (k + 1)
        frac = np.abs((u / spacing) % 1.0 - 0.5) * spacing  # distance to the nearest line, px
        line = np.clip(1.2 - frac, 0, 1)
        threshold = 0.2 + 0.18 * k
        ink = np.maximum(ink, line * np.clip((tone - threshold) * 8, 0, 1))
    ink = np.maximum(ink, np.clip((tone - 0.93) * 12, 0, 1))  # solid darkest areas
    paper = np.array([0.96, 0.92, 0.82]) * (0.95 + 0.05 * smooth_noise(rng, size, 2))[..., None]
    rgb = paper * (1 - ink[..., None]) + np.array([0.18, 0.12, 0.08]) * ink[..., None]
    return to_image(rgb)


STYLES: dict[str, Callable[[int, np.random.Generator], Image.Image]] = {
    "mosaic": mosaic, "waves": waves, "dots": dots, "hatching": hatching,
}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("nst/assets"), help="folder for style_NAME.png")
    parser.add_argument("--size", type=int, default=512, help="side of the square images")
    parser.add_argument("--seed", type=int, default=0, help="random seed (each style adds its index)")
    parser.add_argument("--only", action="append", choices=sorted(STYLES), help="draw only these (repeat)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for i, (name, paint) in enumerate(STYLES.items()):
        if args.only and name not in args.only:
            continue
        start = time.perf_counter()
        path = args.out / f"style_{name}.png"
        paint(args.size, np.random.default_rng(args.seed + i)).save(path, optimize=True)
        kib = path.stat().st_size / 1024
        print(f"{path}: {args.size}x{args.size}, {kib:.0f} KiB, {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
