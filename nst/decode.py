"""Pixel decoding behind :func:`nst.io.read_image`: 16-bit PNG, gray, alpha, ICC, EXIF orientation.

Pillow truncates 16-bit RGB(A) PNGs to 8 bits and leaves colour profiles and orientation to
the caller; these helpers give float32 RGB in [0, 1] with the source's full precision.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

# Pillow errors that mean "bad file", not "bug in nst".
PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)
# PNG 16-bit raw modes Pillow truncates to 8 bits -> a raw mode that yields the low bytes.
_PNG16_LOW = {"RGB;16B": "RGB;16L", "RGBA;16B": "RGBA;16L", "LA;16B": "RGBA"}
_GRAY16_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
Decoded = tuple[np.ndarray, np.ndarray | None, int]  # rgb, alpha, bit depth


def tile_rawmode(im: ImageFile.ImageFile) -> str | None:
    """The raw (on-disk) mode of the first tile, read before ``load()`` clears it."""
    args = im.tile[0].args if im.tile else None
    if isinstance(args, tuple) and args:
        args = args[0]
    return args if isinstance(args, str) else None


def orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1))
    except (*PIL_ERRORS, TypeError):
        return 1  # a broken EXIF block must not make a good image unreadable


def pixels(im: Image.Image, file: Path, rawmode: str | None) -> Decoded:
    """Decode a loaded image to (float32 RGB, float32 alpha or None, source bit depth)."""
    sixteen = rawmode is not None and rawmode.endswith((";16B", ";16L", ";16N"))
    depth = 16 if sixteen or im.mode in _GRAY16_MODES or im.mode == "F" else 8
    srgb = _to_srgb(im)
    if srgb is not None:
        im, rawmode = srgb, None
    if rawmode in _PNG16_LOW and im.format == "PNG":
        values = _png16(im, file, rawmode)
        trns = im.info.get("transparency")  # tRNS colour of a 16-bit RGB PNG, 16-bit values
        if isinstance(trns, tuple) and values.shape[2] == 3:
            values = np.dstack([values, np.where((values == trns).all(axis=2), 0, 65535)])
        return (*_split_alpha(values, 65535), 16)
    if im.mode == "F":
        gray = np.clip(np.asarray(im, dtype=np.float32), 0, 1)
        return np.repeat(gray[:, :, None], 3, axis=2), None, depth
    if im.mode in _GRAY16_MODES:
        values = np.asarray(im).astype(np.int64)
        trns = im.info.get("transparency")
        alpha = None if not isinstance(trns, int) else (values != trns).astype(np.float32)
        gray = np.clip(values, 0, 65535).astype(np.float32) / np.float32(65535)
        return np.repeat(gray[:, :, None], 3, axis=2), alpha, depth
    has_alpha = im.mode in _ALPHA_MODES or "transparency" in im.info
    converted = im.convert("RGBA" if has_alpha else "RGB")
    return (*_split_alpha(np.asarray(converted), 255), depth)


def _png16(im: Image.Image, file: Path, rawmode: str) -> np.ndarray:
    """Full 16-bit pixels of an RGB(A)/LA PNG, which Pillow itself truncates to 8 bits.

    Pillow decodes these with the high byte of each sample only. Decoding the file a second
    time with a raw mode that picks the other bytes gives the low byte, with Pillow's own
    PNG unfiltering and interlace handling.
    """
    with Image.open(file, formats=["PNG"]) as low_im:
        low_im.tile = [low_im.tile[0]._replace(args=_PNG16_LOW[rawmode])]
        low_im.load()
        low = np.asarray(low_im).astype(np.uint16)
    if rawmode == "LA;16B":  # "RGBA" raw mode gives all four bytes: L hi, L lo, A hi, A lo
        gray, alpha = low[:, :, 0] << 8 | low[:, :, 1], low[:, :, 2] << 8 | low[:, :, 3]
        return np.stack([gray, gray, gray, alpha], axis=2)
    return np.asarray(im).astype(np.uint16) << 8 | low


def _split_alpha(values: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray | None]:
    floats = values.astype(np.float32) / np.float32(scale)
    if floats.shape[2] == 4:
        return np.ascontiguousarray(floats[:, :, :3]), np.ascontiguousarray(floats[:, :, 3])
    return floats, None


def _to_srgb(im: Image.Image) -> Image.Image | None:
    """Convert an image with an embedded non-sRGB ICC profile to sRGB (best effort)."""
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return None
    try:
        from PIL import ImageCms
    except ImportError:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(profile).lower():
            return None
        srgb = ImageCms.createProfile("sRGB")
        mode = "RGBA" if im.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(im, profile, srgb, outputMode=mode)
    except (ImageCms.PyCMSError, ImportError, *PIL_ERRORS, TypeError):
        return None  # no LittleCMS, or a profile that does not fit: keep the raw values
