"""The ``style`` input of style-swap models (Chen & Schmidt 2016) from an image file.

The style image is resized so its short side is ``short_side`` pixels: the swap's correlation
volume is (N, P, H/4, W/4) with P ~ (style area / 16) patches, so an unbounded style image
would make memory grow with its area times the content's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nst.contract.spec import TensorSpec
from nst.errors import InputError
from nst.io import DEFAULT_MAX_PIXELS
from nst.jobs import DEFAULT_STYLE_SIDE, load_style_image

STYLE_INPUT = "style"


def style_image_feed(
    inputs: Sequence[TensorSpec], family: str, path: str | Path, *, short_side: int = DEFAULT_STYLE_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> dict[str, np.ndarray]:  # fmt: skip
    """``{"style": (1, 3, Hs, Ws) float32}`` for a model that takes a style image.

    Raises:
        InputError: The model has no ``style`` input, or ``short_side`` is below 16.
        InputImageError: The style image cannot be read.
    """
    if STYLE_INPUT not in {t.name for t in inputs}:
        raise InputError(f"--style-image needs a style-swap model (input 'style'), not a {family} model")
    return {STYLE_INPUT: load_style_image(path, short_side=short_side, max_pixels=max_pixels)}
