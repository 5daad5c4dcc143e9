"""Contact sheets: one photo through every style of a model, or through several models.

    >>> from nst.runtime.sheet import SheetOptions, contact_sheet
    >>> contact_sheet(SheetOptions(Path("photo.jpg"), Path("sheet.png"), models=(Path("cin.onnx"),)))

Without a model the sheet uses the bundled multi-style model (``nst/assets/multistyle_model.onnx``,
see docs/MULTISTYLE_DEFAULT.md), or the bundled single-style model where that file is absent.

The first tile is the photo itself, labelled ``original``; a multi-style model (CIN,
StyleBank) gives one tile per style, labelled with the style's name; with several models
each gives its tile(s), labelled with the model's file name (and the style, for multi-style
ones). Tiles are laid out in a grid of ``columns``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from nst.artifacts import check_targets
from nst.errors import InputError
from nst.io import DEFAULT_MAX_PIXELS, LoadedImage, check_writable, image_from_array, read_image, write_image
from nst.runtime.registry import open_runner
from nst.runtime.style_inputs import WEIGHTS
from nst.runtime.stylizer import Stylizer, default_model_path

MIN_TILE = 16  # the smallest image nst models accept
LABEL_HEIGHT = 18
GAP = 4
DEFAULT_COLUMNS = 4


@dataclass(frozen=True)
class SheetOptions:
    """What goes on a contact sheet.

    Attributes:
        photo: The photo every tile shows.
        output: The sheet image (its suffix picks the format).
        models: ``.onnx`` models or TensorRT engines; empty: :func:`default_sheet_model`.
        columns: Tiles per row (default: up to 4).
        tile_size: Short side of each tile, in pixels (the photo is resized to it first).
        providers: ONNX Runtime providers (``auto``, ``cpu``, ``cuda``, ...).
        force: Replace an existing output.
        max_pixels: Decompression-bomb limit for the photo.
    """

    photo: Path
    output: Path
    models: tuple[Path, ...] = ()
    columns: int | None = None
    tile_size: int = 256
    providers: str = "auto"
    force: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class SheetResult:
    """A written contact sheet.

    Attributes:
        output: The sheet file.
        labels: The tiles' labels, in order (``original`` first).
        columns: Tiles per row.
        rows: Rows of tiles.
        size: The sheet's (width, height) in pixels.
        seconds: Wall time of the job.
    """

    output: Path
    labels: tuple[str, ...]
    columns: int
    rows: int
    size: tuple[int, int]
    seconds: float

    def summary(self) -> str:
        """One line for the CLI."""
        styled = len(self.labels) - 1
        return (f"sheet of the original + {styled} stylized tile(s) in {self.columns}x{self.rows} "
                f"({self.size[0]}x{self.size[1]}) -> {self.output} [{self.seconds:.1f}s]")  # fmt: skip


def contact_sheet(options: SheetOptions) -> SheetResult:
    """Stylize one photo with every style of a model (or with several models) into one image.

    Raises:
        InputError: Bad ``tile_size``/``columns``, an output that is an input, a bad image
            suffix, or a model whose style needs more than a style choice (e.g. a style image).
        OutputExistsError: The output exists and ``force`` is False.
        ModelError, InputImageError: From the model or the photo.
    """
    start = time.perf_counter()
    if options.tile_size < MIN_TILE:
        raise InputError(f"--tile-size must be >= {MIN_TILE}, got {options.tile_size}")
    if options.columns is not None and options.columns < 1:
        raise InputError(f"--columns must be >= 1, got {options.columns}")
    models = list(options.models) or [default_sheet_model()]
    check_targets([options.output], force=options.force, sources=[options.photo, *models])
    check_writable(options.output, force=options.force)
    photo = _resized(read_image(options.photo, max_pixels=options.max_pixels), options.tile_size)
    tiles: list[tuple[str, np.ndarray]] = [("original", photo.rgb)]
    for model in models:
        tiles += _model_tiles(model, photo, options.providers, named=len(models) > 1)
    columns = min(options.columns or DEFAULT_COLUMNS, len(tiles))
    sheet = _grid(tiles, columns)
    written = write_image(options.output, np.asarray(sheet, np.float32) / 255.0, force=options.force)
    rows = math.ceil(len(tiles) / columns)
    return SheetResult(written, tuple(label for label, _ in tiles), columns, rows, sheet.size,
                       time.perf_counter() - start)  # fmt: skip


def default_sheet_model() -> Path:
    """The bundled multi-style model (every style gets a tile), else the bundled single-style one."""
    return default_model_path(multi_style=True)


def _resized(image: LoadedImage, short_side: int) -> LoadedImage:
    """The photo with its short side at ``short_side`` (alpha already composited)."""
    height, width = image.rgb.shape[:2]
    scale = short_side / min(height, width)
    size = (max(MIN_TILE, round(width * scale)), max(MIN_TILE, round(height * scale)))
    pil = Image.fromarray(np.clip(image.rgb * 255.0 + 0.5, 0, 255).astype(np.uint8))
    return image_from_array(np.asarray(pil.resize(size, Image.Resampling.LANCZOS)))


def _model_tiles(
    model: Path, photo: LoadedImage, providers: str, *, named: bool
) -> list[tuple[str, np.ndarray]]:
    """(label, stylized RGB) per style of ``model``; ``named``: labels carry the model's name."""
    with open_runner(model, providers=providers) as runner:
        specs = {t.name: t for t in runner.spec.inputs}
        names = runner.metadata.styles
        if WEIGHTS not in specs:  # one style
            label = model.stem if named else (names[0] if names else model.stem)
            return [(label, Stylizer(runner).stylize_images([photo])[0])]
        count = int(specs[WEIGHTS].shape[0])
        tiles = []
        for i in range(count):
            style = names[i] if i < len(names) else f"style {i}"
            rgb = Stylizer(runner, style=i).stylize_images([photo])[0]
            tiles.append((f"{model.stem}: {style}" if named else style, rgb))
        return tiles


def _grid(tiles: Sequence[tuple[str, np.ndarray]], columns: int) -> Image.Image:
    """Tiles (all the same size) with a label strip under each, ``columns`` per row, on white."""
    height, width = tiles[0][1].shape[:2]
    cell_w, cell_h = width + GAP, height + LABEL_HEIGHT + GAP
    rows = math.ceil(len(tiles) / columns)
    sheet = Image.new("RGB", (columns * cell_w + GAP, rows * cell_h + GAP), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for index, (label, rgb) in enumerate(tiles):
        x = GAP + (index % columns) * cell_w
        y = GAP + (index // columns) * cell_h
        sheet.paste(Image.fromarray(np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)), (x, y))
        text = _fit(draw, label, font, width)
        draw.text((x + 2, y + height + 3), text, fill="black", font=font)
    return sheet


def _fit(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int
) -> str:
    """``text``, cut with an ellipsis to fit ``width`` pixels."""
    if draw.textlength(text, font=font) <= width - 4:
        return text
    while text and draw.textlength(text + "...", font=font) > width - 4:
        text = text[:-1]
    return text + "..."
