"""Memory budget of a stylize run: ``--max-memory``, ``--tile auto|off|SIZE``, ``--max-pixels``.

Estimates (bytes, resident) for an H x W image:

- one pass: ``BASE + H*W * (IMAGE + k * one_pass_bytes_per_pixel)``: the decoded photo and the
  result (float32 RGB each), plus ONNX Runtime's working set, which measures at ``k`` = 0.23 of
  the sum of every intermediate tensor (memory reuse), e.g. 0.49 KB per pixel for the bundled
  model;
- tiled: ``BASE + max(H*W * PHOTO + strip, H*W * IMAGE)``: while strips run only the photo
  stays in memory (the intermediate tensors go to scratch files) and a strip's rows are chosen
  so that its working set (every tensor one segment touches, halo included, times
  ``STRIP_MARGIN``) fits what is left; decoding the photo and encoding the result take
  ``IMAGE`` per pixel.

``auto`` runs one pass when its estimate fits the budget and tiles otherwise. The pixel
limit that agrees with a budget is the largest image whose tiled run fits it, so the default
``max_pixels`` is the smaller of the decompression-bomb limit and that.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from nst.errors import InputError

BASE_BYTES = 400 * 2**20  # interpreter, numpy, ONNX Runtime, one model and its sessions
IMAGE_BYTES_PER_PIXEL = 32  # decode / encode: float32 RGB photo + float32 RGB result + alpha + uint8
PHOTO_BYTES_PER_PIXEL = 16  # while strips run: the float32 RGB photo (and its alpha)
STRIP_MARGIN = 1.4  # on the strip working-set estimate: measured peak / estimate was 1.23 at 48 MP
ONE_PASS_FACTOR = 0.23  # measured ORT peak / sum of all tensors (bundled model, 2-12 MP)
MIN_STRIP_ROWS = 16
_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class MemoryBudgetError(InputError):
    """An image (or a setting) that would not fit the memory budget."""


def parse_memory(text: str | int) -> int:
    """``4G``, ``512M``, ``1.5GB``, ``2GiB`` or a byte count -> bytes.

    Raises:
        InputError: Not a positive size.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", str(text), re.IGNORECASE)
        if not match:
            raise InputError(f"--max-memory {text!r} is not a size (e.g. 4G, 512M, 2GiB)")
        value = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if value <= BASE_BYTES:
        raise InputError(
            f"--max-memory must exceed {BASE_BYTES / 2**30:.1f} GB (the runtime itself), got {text}"
        )
    return value


def available_memory() -> int:
    """MemAvailable from /proc/meminfo (else the physical memory), in bytes."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def default_max_memory() -> int:
    """Half the memory available now (at least 1 GB): the default ``--max-memory``."""
    return max(2**30, available_memory() // 2)


def format_bytes(n: float) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


@dataclass(frozen=True)
class TileSetting:
    """``--tile``: ``auto`` (tile when one pass would exceed the budget), ``off``, or strip rows."""

    mode: str  # auto | off | rows
    rows: int = 0

    @classmethod
    def parse(cls, text: str | int | None) -> TileSetting:
        """``auto``, ``off`` or a positive row count (strips of that many image rows).

        Raises:
            InputError: Anything else.
        """
        if text is None or text == "auto":
            return cls("auto")
        if text == "off":
            return cls("off")
        if isinstance(text, int) or str(text).isdigit():
            rows = int(text)
            if rows >= MIN_STRIP_ROWS:
                return cls("rows", rows)
        raise InputError(f"--tile must be auto, off or a strip height >= {MIN_STRIP_ROWS} rows, got {text!r}")


def one_pass_bytes(pixels: int, bytes_per_pixel: float) -> int:
    """Estimated peak of one untiled run (see the module docstring)."""
    return int(BASE_BYTES + pixels * (IMAGE_BYTES_PER_PIXEL + ONE_PASS_FACTOR * bytes_per_pixel))


def strip_rows_for(
    budget: int, height: int, width: int, bytes_per_pixel: float, halo: int, align: int
) -> int:
    """The tallest strip (image rows, a multiple of ``align``) whose run fits ``budget``.

    Raises:
        MemoryBudgetError: Not even a strip of ``align`` rows fits.
    """
    pixels, per_row = height * width, bytes_per_pixel * STRIP_MARGIN * width
    left = budget - BASE_BYTES - pixels * PHOTO_BYTES_PER_PIXEL
    rows = int(left // per_row) - 2 * halo if left > 0 else 0
    rows = rows // align * align
    if rows < max(align, MIN_STRIP_ROWS) or BASE_BYTES + pixels * IMAGE_BYTES_PER_PIXEL > budget:
        strips = BASE_BYTES + pixels * PHOTO_BYTES_PER_PIXEL + per_row * (2 * halo + MIN_STRIP_ROWS)
        need = max(strips, BASE_BYTES + pixels * IMAGE_BYTES_PER_PIXEL)
        raise MemoryBudgetError(
            f"a {width}x{height} image needs about {format_bytes(need)} even in strips, over --max-memory "
            f"{format_bytes(budget)}; raise --max-memory or use a smaller image"
        )
    return min(rows, -(-height // align) * align)


def tiled_bytes(pixels: int, width: int, rows: int, bytes_per_pixel: float, halo: int) -> int:
    """Estimated peak of a run in strips of ``rows`` (see the module docstring)."""
    strip = pixels * PHOTO_BYTES_PER_PIXEL + bytes_per_pixel * STRIP_MARGIN * width * (rows + 2 * halo)
    return int(BASE_BYTES + max(strip, pixels * IMAGE_BYTES_PER_PIXEL))


def max_pixels_for(budget: int, bytes_per_pixel: float, halo: int, width_hint: int = 12_000) -> int:
    """The largest image (pixels) that fits ``budget`` in strips, for a ~``width_hint``-wide photo."""
    strip = bytes_per_pixel * STRIP_MARGIN * width_hint * (2 * halo + 64)
    by_strips = (budget - BASE_BYTES - strip) // PHOTO_BYTES_PER_PIXEL
    return max(0, int(min(by_strips, (budget - BASE_BYTES) // IMAGE_BYTES_PER_PIXEL)))
