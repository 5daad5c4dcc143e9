"""Draw the README's control figures: one photo under --strength and --preserve-color.

Usage: python scripts/controls_figure.py PHOTO -o docs/images/controls.jpg [--model M] [--height 200]

Each tile is the real output of ``Stylizer`` with that setting (the same call ``nst stylize``
makes), labelled with the command-line flag that gives it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from before_after import resize_height  # scripts/ is sys.path[0] when run as a script
from PIL import Image, ImageDraw

from nst.io import read_image, write_image
from nst.runtime.stylizer import Stylizer

SETTINGS: list[tuple[str, float, bool]] = [
    ("photo", 0.0, False),
    ("--strength 0.35", 0.35, False),
    ("--strength 0.7", 0.7, False),
    ("(default) 1.0", 1.0, False),
    ("--preserve-color", 1.0, True),
    ("--strength 0.7 --preserve-color", 0.7, True),
]


def labelled(tile: np.ndarray, text: str, band: int = 18) -> np.ndarray:
    """The tile with a white caption band underneath."""
    canvas = Image.new("RGB", (tile.shape[1], tile.shape[0] + band), "white")
    canvas.paste(Image.fromarray((np.clip(tile, 0, 1) * 255).round().astype(np.uint8)), (0, 0))
    ImageDraw.Draw(canvas).text((4, tile.shape[0] + 3), text, fill="black")
    return np.asarray(canvas, np.float32) / 255


def row(tiles: list[np.ndarray], pad: int = 6) -> np.ndarray:
    """Tiles side by side on a white background."""
    height = max(t.shape[0] for t in tiles)
    width = sum(t.shape[1] for t in tiles) + pad * (len(tiles) + 1)
    canvas = np.ones((height + 2 * pad, width, 3), np.float32)
    x = pad
    for tile in tiles:
        canvas[pad : pad + tile.shape[0], x : x + tile.shape[1]] = tile
        x += tile.shape[1] + pad
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: the bundled one)")
    parser.add_argument("--height", type=int, default=200)
    args = parser.parse_args()
    photo = resize_height(read_image(args.photo).rgb, args.height)
    tiles = []
    for label, strength, keep in SETTINGS:
        if label == "photo":
            tiles.append(labelled(photo, label))
            continue
        with Stylizer(args.model, strength=strength, preserve_color=keep) as stylizer:
            tiles.append(labelled(stylizer.stylize_array(photo), label))
    write_image(args.output, row(tiles), force=True)
    print(f"wrote {args.output} ({len(tiles)} tiles)")


if __name__ == "__main__":
    main()
