"""Write a before/after grid: each input photo (top row) above its stylized version (bottom row).

Usage: python scripts/before_after.py MODEL.onnx IMAGES_DIR -o grid.png [--height 256]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from nst.io import list_images, read_image, write_image
from nst.runtime.stylizer import Stylizer


def resize_height(rgb: np.ndarray, height: int) -> np.ndarray:
    """Resize an (H, W, 3) float image to ``height`` rows, keeping the aspect ratio."""
    h, w = rgb.shape[:2]
    size = (max(16, round(w * height / h)), height)
    image = Image.fromarray((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)).resize(size, Image.LANCZOS)
    return np.asarray(image, np.float32) / 255


def grid(pairs: list[tuple[np.ndarray, np.ndarray]], pad: int = 6) -> np.ndarray:
    """Columns of (before, after) pairs on a white background."""
    height = pairs[0][0].shape[0]
    width = sum(b.shape[1] for b, _ in pairs) + pad * (len(pairs) + 1)
    canvas = np.ones((2 * height + 3 * pad, width, 3), np.float32)
    x = pad
    for before, after in pairs:
        w = before.shape[1]
        canvas[pad : pad + height, x : x + w] = before
        canvas[2 * pad + height : 2 * pad + 2 * height, x : x + w] = after
        x += w + pad
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("images", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--height", type=int, default=256)
    args = parser.parse_args()
    pairs = []
    with Stylizer(args.model) as stylizer:
        for path in list_images([args.images]):
            before = resize_height(read_image(path).rgb, args.height)
            pairs.append((before, stylizer.stylize_array(before)))
    write_image(args.output, grid(pairs), force=True)
    print(f"wrote {args.output} ({len(pairs)} images)")


if __name__ == "__main__":
    main()
