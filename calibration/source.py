"""Calibration data: where the feeds come from, and how activation ranges are estimated.

Modelled on ONNX Runtime's ``quantization/calibrate.py``: a reader with one job (iterate
feeds) and the range-estimation strategies as an Enum (implemented in
:mod:`nst.calibration.ranges`). numpy and Pillow only.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from nst.artifacts import sha256_file
from nst.errors import InputError
from nst.io import list_images, read_image

Feed = dict[str, np.ndarray]


@runtime_checkable
class CalibrationSource(Protocol):
    """Anything that yields model feeds, e.g. ``{"image": float32 (1, 3, H, W) in [0, 1]}``.

    Iterating twice must give the same feeds in the same order (the percentile and entropy
    methods make two passes: the maximum of every tensor, then its histogram).
    """

    def __iter__(self) -> Iterator[Feed]: ...

    def __len__(self) -> int: ...


class CalibrationMethod(str, enum.Enum):
    """How activation ranges are chosen from the calibration data.

    * ``minmax``: observed min/max; no clipping, so one outlier widens every step.
    * ``entropy``: the threshold that minimises KL divergence between the float and
      quantized histograms (Migacz, "8-bit Inference with TensorRT", GTC 2017).
    * ``percentile``: clip at the 99.999th percentile of |x| (ORT's default percentile).

    Every range is symmetric (one threshold on |x|, zero point 0), as TensorRT's INT8 is.
    """

    MINMAX = "minmax"
    ENTROPY = "entropy"
    PERCENTILE = "percentile"

    @classmethod
    def parse(cls, name: str) -> CalibrationMethod:
        """The method called ``name`` (case-insensitive).

        Raises:
            InputError: On an unknown name (the message lists the valid ones).
        """
        try:
            return cls(name.lower())
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise InputError(f"unknown calibration method {name!r} (use one of: {valid})") from None


def take(source: CalibrationSource, n: int) -> list[Feed]:
    """The first ``n`` feeds of ``source`` (fewer if it is shorter)."""
    feeds: list[Feed] = []
    for feed in source:
        if len(feeds) == n:
            break
        feeds.append(feed)
    return feeds


def cover_crop(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize (bicubic, aspect kept) to cover ``height`` x ``width``, then centre-crop to it.

    Args:
        rgb: float32 (H, W, 3) in [0, 1].
        height: Output height in pixels.
        width: Output width in pixels.

    Returns:
        float32 (height, width, 3) in [0, 1].
    """
    h, w = rgb.shape[:2]
    scale = max(height / h, width / w)
    new_w, new_h = max(width, round(w * scale)), max(height, round(h * scale))
    channels = [  # per-channel float resize: no 8-bit round trip
        np.asarray(Image.fromarray(rgb[:, :, c]).resize((new_w, new_h), Image.Resampling.BICUBIC))
        for c in range(3)
    ]
    resized = np.clip(np.stack(channels, axis=2), 0.0, 1.0)  # (new_h, new_w, 3)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    return np.ascontiguousarray(resized[top : top + height, left : left + width], dtype=np.float32)


class ImageFolderSource:
    """Images of a folder (or files), resized and centre-cropped to ``size`` (S or (H, W)).

    Args:
        paths: A folder, a file, or several of either (expanded by :func:`nst.io.list_images`).
        size: Side of the square crops fed to the model, or (height, width) of the crops.
        limit: Use at most this many images (a seeded random subset); None for all.
        seed: Seed of that subset, so a calibration reproduces.
        input_name: Graph input the feeds go to.

    Raises:
        InputImageError: A path is missing or a folder has no images.
        InputError: ``size`` or ``limit`` is not positive.
    """

    def __init__(
        self, paths: str | Path | Sequence[str | Path], size: int | tuple[int, int] = 256,
        limit: int | None = None,
        seed: int = 0, input_name: str = "image",
    ) -> None:  # fmt: skip
        self.height, self.width = (size, size) if isinstance(size, int) else size
        if min(self.height, self.width) < 1:
            raise InputError(f"calibration size must be >= 1, got {size}")
        if limit is not None and limit < 1:
            raise InputError(f"calibration limit must be >= 1, got {limit}")
        listed = list_images([paths] if isinstance(paths, str | Path) else list(paths))
        if limit is not None and limit < len(listed):
            listed = sorted(random.Random(seed).sample(listed, limit))
        self.files: list[Path] = listed
        self.size, self.input_name = size, input_name

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[Feed]:
        for path in self.files:
            crop = cover_crop(read_image(path).rgb, self.height, self.width)  # (H, W, 3)
            yield {self.input_name: crop.transpose(2, 0, 1)[None].copy()}  # (1, 3, H, W)

    def digests(self) -> dict[str, Path]:
        """sha256 of every file -> the file."""
        return {sha256_file(p): p for p in self.files}
