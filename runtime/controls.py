"""Everyday output controls applied after the network: strength and colour keeping.

* ``strength`` in [0, 1] blends the stylized image with the photo (1: the net's output); for
  models with a ``strength`` input (style-swap: swapped and content features blended before
  the inverse net, Chen & Schmidt's trade-off) it is fed to the graph instead (:func:`in_graph`).
* ``preserve_color`` keeps the photo's colours: the stylized image's luma (BT.601 Y) with the
  photo's chroma (Cb, Cr), as in Gatys et al. 2016's "luminance-only transfer".

Both work on (H, W, 3) float32 RGB in [0, 1] of the same size, so they apply to every
stylization family; super-resolution (output larger than its input) is refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from nst.contract.spec import TensorSpec
from nst.errors import InputError

# BT.601 full-range RGB <-> YCbCr (JPEG's), offsets dropped: Cb/Cr are centred on 0 here.
_TO_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
                   np.float32)  # fmt: skip
_TO_RGB = np.linalg.inv(_TO_YCC).astype(np.float32)


@dataclass(frozen=True)
class Controls:
    """What to do with the network's output before it is written.

    Raises:
        InputError: ``strength`` outside [0, 1] or not finite.
    """

    strength: float = 1.0
    preserve_color: bool = False

    def __post_init__(self) -> None:
        if not math.isfinite(self.strength) or not 0.0 <= self.strength <= 1.0:
            raise InputError(f"strength must be in [0, 1], got {self.strength}")

    @property
    def active(self) -> bool:
        return self.strength != 1.0 or self.preserve_color

    def apply(self, photo: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        """(H, W, 3) photo and stylized image -> the controlled (H, W, 3) float32 result.

        Raises:
            InputError: The two differ in size (a super-resolution model).
        """
        if photo.shape != stylized.shape:
            raise InputError(
                "--strength/--preserve-color need an output the size of the input; the model gives "
                f"{stylized.shape[1]}x{stylized.shape[0]} for {photo.shape[1]}x{photo.shape[0]}"
            )
        out = keep_colors(photo, stylized) if self.preserve_color else stylized
        if self.strength != 1.0:
            out = self.strength * out + (1.0 - self.strength) * photo
        return np.clip(out, 0.0, 1.0).astype(np.float32)


def keep_colors(photo: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """The stylized image's luma with the photo's chroma, (H, W, 3) float32 RGB."""
    ycc_photo = photo.astype(np.float32) @ _TO_YCC.T  # (H, W, 3): Y, Cb, Cr
    ycc = np.concatenate([(stylized.astype(np.float32) @ _TO_YCC.T)[..., :1], ycc_photo[..., 1:]], axis=-1)
    return np.clip(ycc @ _TO_RGB.T, 0.0, 1.0)


def in_graph(controls: Controls, inputs: Sequence[TensorSpec]) -> tuple[Controls, dict[str, np.ndarray]]:
    """Route ``strength`` into the graph for models that take it (style-swap's feature blend).

    A model with a ``strength`` input gets the value as that input, and the returned controls
    blend nothing in pixels (``preserve_color`` is kept); other models keep the pixel blend.

    Returns:
        The controls to apply after the net, and the feed (``{}`` or ``{"strength": (1,)}``).
    """
    from nst.runtime.style_inputs import STRENGTH

    if STRENGTH not in {t.name for t in inputs}:
        return controls, {}
    return replace(controls, strength=1.0), {STRENGTH: np.full(1, controls.strength, np.float32)}
