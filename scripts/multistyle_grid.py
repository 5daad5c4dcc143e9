"""Before/after grid of a multi-style model: photos (rows) x styles (columns), style images on top.

    python scripts/multistyle_grid.py nst/assets/multistyle_model.onnx data/heldout \
        --style-dir nst/assets -o docs/images/multistyle_default_grid.jpg --height 160

The top row shows each style image (``STYLE_DIR/style_NAME.png``, cropped square) above its
column; the first column is the photo itself. Every tile is the photo resized to ``--height``
rows and run through the one model with ``--style NAME``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from before_after import resize_height  # scripts/ is sys.path[0] when run as a script
from PIL import Image, ImageDraw, ImageFont

from nst.io import list_images, read_image, write_image
from nst.runtime.stylizer import Stylizer

PAD = 4
LABEL = 16


def square(rgb: np.ndarray, side: int) -> np.ndarray:
    """Centre square crop resized to ``side``."""
    h, w = rgb.shape[:2]
    s = min(h, w)
    crop = rgb[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    return resize_height(crop, side)


def draw_grid(rows: list[list[np.ndarray]], labels: list[str]) -> np.ndarray:
    """Rows of tiles (same height per row; column widths are each column's widest tile)."""
    widths = [max(row[c].shape[1] for row in rows) for c in range(len(rows[0]))]
    heights = [row[0].shape[0] for row in rows]
    size = (sum(widths) + PAD * (len(widths) + 1), sum(heights) + LABEL + PAD * (len(rows) + 1))
    canvas = Image.new("RGB", size, "white")
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default()
    y = PAD
    for r, row in enumerate(rows):
        x = PAD
        for c, tile in enumerate(row):
            canvas.paste(Image.fromarray((np.clip(tile, 0, 1) * 255).round().astype(np.uint8)), (x, y))
            if r == 0:
                draw.text((x + 2, y + heights[0] + 2), labels[c], fill="black", font=font)
            x += widths[c] + PAD
        y += heights[r] + PAD + (LABEL if r == 0 else 0)
    return np.asarray(canvas, np.float32) / 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("images", type=Path)
    parser.add_argument("--style-dir", type=Path, default=Path("nst/assets"))
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--height", type=int, default=160)
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality")
    args = parser.parse_args()
    photos = [resize_height(read_image(p).rgb, args.height) for p in list_images([args.images])]
    with Stylizer(args.model, providers="cpu") as stylizer:
        names = list(stylizer.runner.metadata.styles)
        header = [np.ones((args.height, args.height, 3), np.float32)]
        header += [square(read_image(args.style_dir / f"style_{n}.png").rgb, args.height) for n in names]
        rows = [header] + [[p, *(stylizer.stylize_array(p, style=n) for n in names)] for p in photos]
    picture = draw_grid(rows, ["photo / style", *names])
    written = write_image(args.output, picture, force=True, quality=args.quality)
    print(f"wrote {written}: {len(photos)} photos x {len(names)} styles")


if __name__ == "__main__":
    main()
