"""Uploads in, images out: decode request bytes with nst's loader, encode results, read ``Accept``.

:func:`nst.io.read_image` reads files only, so an upload is written to a private temporary
file and read back with the loader's every guard (decompression-bomb pixel limit checked
from the header, truncation, EXIF orientation, alpha, 16-bit, ICC); messages name the form
field instead of the temporary path.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

from nst.errors import InputImageError
from nst.io import LoadedImage, read_image
from nst.jobs import load_style_image
from nst.serve.errors import NotAcceptableError

T = TypeVar("T")
MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
JPEG_QUALITY = 92
PNG_COMPRESS_LEVEL = 3  # zlib 1-9: 3 is ~3x faster than Pillow's 6 for a few % larger files


def decode_image(data: bytes, *, field: str, max_pixels: int) -> LoadedImage:
    """An uploaded image as float32 RGB (+ alpha), through :func:`nst.io.read_image`.

    Raises:
        InputImageError: Empty, not an image, corrupt, truncated, or over ``max_pixels``.
    """
    return _through_file(data, field, lambda path: read_image(path, max_pixels=max_pixels))


def decode_style_image(data: bytes, *, short_side: int, max_pixels: int) -> np.ndarray:
    """An uploaded style image as (1, 3, Hs, Ws) float32, short side resized to ``short_side``.

    Raises:
        InputImageError: As :func:`decode_image`.
    """
    return _through_file(
        data, "style_image", lambda p: load_style_image(p, short_side=short_side, max_pixels=max_pixels)
    )


def _through_file(data: bytes, field: str, read: Callable[[Path], T]) -> T:
    if not data:
        raise InputImageError(f"upload {field!r} is empty")
    with tempfile.NamedTemporaryFile(prefix="nst-serve-", suffix=".upload") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            return read(Path(tmp.name))
        except InputImageError as exc:
            raise InputImageError(str(exc).replace(tmp.name, f"upload {field!r}")) from None


def encode_image(rgb: np.ndarray, alpha: np.ndarray | None, fmt: str) -> bytes:
    """(H, W, 3) float RGB in [0, 1] (+ (H, W) alpha, kept in PNG) -> PNG or JPEG bytes."""
    image = Image.fromarray(np.rint(np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8))
    if alpha is not None and fmt == "png":
        image.putalpha(Image.fromarray(np.rint(np.clip(alpha, 0.0, 1.0) * 255).astype(np.uint8)))
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    else:
        image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def negotiate(accept: str | None) -> str:
    """``png`` or ``jpeg`` from an ``Accept`` header (highest q wins; PNG on ties and when absent).

    Raises:
        NotAcceptableError: The header admits neither ``image/png`` nor ``image/jpeg``.
    """
    if not accept or not accept.strip():
        return "png"
    quality: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media.lower()] = max(q, quality.get(media.lower(), 0.0))
    wildcard = max(quality.get("image/*", 0.0), quality.get("*/*", 0.0))

    def score(*names: str) -> float:
        given = [quality[n] for n in names if n in quality]
        return max(given) if given else wildcard

    scores = {"png": score("image/png"), "jpeg": score("image/jpeg", "image/jpg")}
    best = max(scores, key=lambda fmt: (scores[fmt], fmt == "png"))
    if scores[best] <= 0:
        raise NotAcceptableError(f"Accept {accept!r} admits neither of this server's image/png, image/jpeg")
    return best
