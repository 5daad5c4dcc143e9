"""Jobs over image files: plan every output before any work, and the resizes jobs share.

Torch-free; used by the runtime (``Stylizer``), the pixel methods in ``nst.train`` and the
measurement jobs alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from nst.errors import InputError
from nst.io import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, check_writable, list_images, read_image

DEFAULT_STYLE_SIDE = 256


@dataclass(frozen=True)
class Job:
    """One input file and where its result goes."""

    source: Path
    target: Path


def plan_outputs(
    inputs: Sequence[str | Path], output: str | Path, *, force: bool = False, output_format: str | None = None
) -> list[Job]:
    """Map inputs (files or folders) to output files, checking every target before any work.

    One input file with an image-suffixed ``output`` writes that file; otherwise ``output`` is
    a folder receiving ``<stem>.png`` (or ``<stem>.<output_format>``) per input.

    Raises:
        InputImageError: Missing inputs or empty folders.
        OutputExistsError: A target exists and ``force`` is false (nothing is written).
        InputError: Two inputs would write the same output file.
    """
    suffix = output_suffix(output_format)
    files = list_images(inputs)
    out = Path(output)
    single = len(files) == 1 and not any(Path(p).is_dir() for p in inputs)
    given = {".jpeg": ".jpg", ".tiff": ".tif"}.get(out.suffix.lower(), out.suffix.lower())
    if output_format is not None and given in IMAGE_SUFFIXES and given != suffix:
        raise InputError(f"-o {out} contradicts --output-format {output_format}; drop one")
    if single and out.suffix.lower() in IMAGE_SUFFIXES:
        jobs = [Job(files[0], out)]
    elif out.suffix.lower() in IMAGE_SUFFIXES:
        raise InputError(f"{len(files)} input images need an output folder, not the file {out}")
    else:
        jobs = [Job(f, out / f"{f.stem}{suffix}") for f in files]
    seen: dict[Path, Path] = {}
    for job in jobs:
        if job.target in seen:
            raise InputError(f"{seen[job.target]} and {job.source} would both write {job.target}")
        seen[job.target] = job.source
        check_writable(job.target, force=force)
    return jobs


OUTPUT_FORMATS = {
    "png": ".png",
    "jpg": ".jpg",
    "jpeg": ".jpg",
    "webp": ".webp",
    "tiff": ".tif",
    "bmp": ".bmp",
}


def output_suffix(output_format: str | None) -> str:
    """``"jpg"`` -> ``".jpg"`` (None: ``".png"``).

    Raises:
        InputError: Not one of :data:`OUTPUT_FORMATS`.
    """
    if output_format is None:
        return ".png"
    key = output_format.lower().lstrip(".")
    if key not in OUTPUT_FORMATS:
        raise InputError(f"unknown --output-format {output_format!r}; choose png, jpg, webp, tiff or bmp")
    return OUTPUT_FORMATS[key]


def resize_short_side(rgb: np.ndarray, size: int) -> np.ndarray:
    """Resize (H, W, 3) float32 so its shorter side is ``size`` (Lanczos)."""
    h, w = rgb.shape[:2]
    scale = size / min(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    channels = [
        np.asarray(Image.fromarray(rgb[:, :, i]).resize(new, Image.Resampling.LANCZOS)) for i in range(3)
    ]  # mode "F" keeps float precision
    return np.clip(np.stack(channels, axis=2), 0.0, 1.0).astype(np.float32)


def load_style_image(
    path: str | Path, *, short_side: int = DEFAULT_STYLE_SIDE, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """The style image as (1, 3, Hs, Ws) float32 in [0, 1], short side resized to ``short_side``.

    Raises:
        InputError: ``short_side`` is below 16.
        InputImageError: The style image cannot be read.
    """
    if short_side < 16:
        raise InputError(f"style short side must be >= 16, got {short_side}")
    rgb = read_image(path, max_pixels=max_pixels).rgb  # (H, W, 3)
    h, w = rgb.shape[:2]
    scale = short_side / min(h, w)
    size = (max(16, round(w * scale)), max(16, round(h * scale)))
    resized = Image.fromarray((rgb * 255).round().astype(np.uint8)).resize(size, Image.Resampling.LANCZOS)
    array = np.asarray(resized, dtype=np.float32) / 255.0  # (Hs, Ws, 3)
    return np.ascontiguousarray(array.transpose(2, 0, 1)[None])
