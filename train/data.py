"""Content images for training: a folder of photos, random crops, tensors in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nst.errors import InputError
from nst.io import list_images, read_image
from nst.jobs import resize_short_side

_CACHE_LIMIT = 512  # decoded images kept in memory; larger folders are read each time


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) float32 in [0, 1] -> (3, H, W) tensor."""
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))


def load_style(path: str | Path, size: int) -> torch.Tensor:
    """Read a style image, resize its short side to ``size``; returns (1, 3, H, W)."""
    return to_tensor(resize_short_side(read_image(path).rgb, size)).unsqueeze(0)


def step_seed(seed: int, step: int) -> int:
    """The seed of everything random in training step ``step`` of a run seeded ``seed``.

    Batches, noise and style draws depend only on (seed, step), so a resumed run draws what an
    uninterrupted one would have.
    """
    return seed * 1_000_003 + step


class ImageFolderDataset:
    """Random square crops of the images in a folder, drawn per step from a seed.

    Batch ``k`` depends only on (``seed``, ``k``), so a resumed run sees exactly the batches
    an uninterrupted run would. Each crop: the image's short side is resized to a random
    length in [``size``, ``1.5 * size``], a random ``size`` x ``size`` window is cut and
    flipped horizontally with probability 1/2.
    """

    def __init__(self, folder: str | Path, size: int, *, min_images: int = 1) -> None:
        self.files = list_images([folder])
        if len(self.files) < min_images:
            raise InputError(f"{folder} holds {len(self.files)} images, need >= {min_images}")
        self.size = size
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.files)

    def _image(self, index: int) -> np.ndarray:
        if index in self._cache:
            return self._cache[index]
        rgb = read_image(self.files[index]).rgb
        if len(self.files) <= _CACHE_LIMIT:
            # keep a copy at most 2x the crop size so memory stays small
            rgb = resize_short_side(rgb, min(min(rgb.shape[:2]), 2 * self.size))
            self._cache[index] = rgb
        return rgb

    def crop(self, index: int, generator: torch.Generator) -> torch.Tensor:
        """One random crop of image ``index``: (3, size, size)."""

        def uniform() -> float:
            return float(torch.rand((), generator=generator))

        rgb = resize_short_side(self._image(index), int(self.size * (1.0 + 0.5 * uniform())))
        h, w = rgb.shape[:2]
        top = int(uniform() * (h - self.size + 1))
        left = int(uniform() * (w - self.size + 1))
        crop = rgb[top : top + self.size, left : left + self.size]
        if uniform() < 0.5:
            crop = crop[:, ::-1]
        return to_tensor(crop)

    def batch(self, step: int, batch_size: int, seed: int) -> torch.Tensor:
        """The (batch_size, 3, size, size) batch of training step ``step``."""
        generator = torch.Generator().manual_seed(step_seed(seed, step))
        indices = torch.randint(0, len(self.files), (batch_size,), generator=generator).tolist()
        return torch.stack([self.crop(i, generator) for i in indices])
