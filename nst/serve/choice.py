"""A request's options -> the model's extra inputs, and the key that says who may batch together.

The same rules as ``nst stylize`` (``nst.runtime.style_inputs``): a style by index or name or
a convex mix of weights for multi-style models, a seed for texture-stylization noise, a style
image for style-swap. Two requests share an inference call only when every extra input is
the same, so the key holds the weights, the seed and the style image's digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from nst.contract.metadata import ModelMetadata
from nst.contract.noise import NOISE_PREFIX
from nst.errors import InputError
from nst.runtime.style_image import STYLE_INPUT
from nst.runtime.style_inputs import (
    STRENGTH,
    WEIGHTS,
    ExtraInput,
    check_style_values,
    noise_feeds,
    style_feeds,
)

HANDLED = (WEIGHTS, "style_masks", STYLE_INPUT, STRENGTH)  # strength: the request's strength field


@dataclass(frozen=True)
class Options:
    """What a request asks for besides the image (all optional).

    Attributes:
        style: A style index or name (multi-style models).
        style_weights: A convex mix of all styles, e.g. ``(0.3, 0.7)``.
        seed: The noise seed (texture-stylization models).
        style_image: (1, 3, Hs, Ws) float32 (style-swap models), already decoded.
        style_digest: sha256 of the style image's bytes.
    """

    style: str | None = None
    style_weights: tuple[float, ...] | None = None
    seed: int | None = None
    style_image: np.ndarray | None = None
    style_digest: str = ""


@dataclass(frozen=True)
class Choice:
    """A model's extra inputs for one request, and what makes them equal to another's."""

    extra: dict[str, ExtraInput]
    key: Hashable


@dataclass(frozen=True)
class Needs:
    """What a request to a model must or may give (for ``/v1/models`` and the web page).

    Attributes:
        style_choice: A style or style weights are required (multi-style models).
        num_styles: How many style weights the model takes (1 for single-style models).
        style_image: A style image is required (style-swap).
        seed: A noise seed may be given (texture stylization).
    """

    style_choice: bool
    num_styles: int
    style_image: bool
    seed: bool


def needs(metadata: ModelMetadata) -> Needs:
    """What a request to the model with this metadata must or may give."""
    names = {t.name for t in metadata.spec.inputs[1:]}
    num = next((int(t.shape[0]) for t in metadata.spec.inputs if t.name == WEIGHTS), 0)
    seed = any(n.startswith(NOISE_PREFIX) for n in names)
    return Needs(WEIGHTS in names, max(num, 1), STYLE_INPUT in names, seed)


def digest(data: bytes) -> str:
    """The key of a style image: sha256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


def choose(metadata: ModelMetadata, options: Options) -> Choice:
    """The extra inputs for ``options`` on this model.

    Raises:
        InputError: A choice the model cannot take, a multi-style model given no style,
            weights that are not convex, a style-swap model without a style image.
    """
    specs = metadata.spec.inputs[1:]
    names = {t.name for t in specs}
    unserved = [n for n in names if n not in HANDLED and not n.startswith(NOISE_PREFIX)]
    if unserved:
        raise InputError(f"model input(s) {unserved} cannot be given over HTTP")
    extra: dict[str, ExtraInput] = {}
    if WEIGHTS in names and options.style is None and options.style_weights is None:
        raise InputError(
            f"this model mixes {len(metadata.styles) or 'several'} styles {list(metadata.styles)}: "
            "choose one with style=NAME|INDEX or mix them with style_weights=W1,W2,... (sum 1)"
        )
    extra.update(style_feeds(
        metadata.spec.inputs, metadata.styles, style=options.style, style_weights=options.style_weights
    ))  # fmt: skip
    weights = extra.get(WEIGHTS)
    if isinstance(weights, np.ndarray):
        check_style_values({WEIGHTS: weights})
    extra.update(noise_feeds(specs, options.seed))
    if STYLE_INPUT in names:
        if options.style_image is None:
            raise InputError("this style-swap model needs a style image: send multipart file 'style_image'")
        extra[STYLE_INPUT] = options.style_image
    elif options.style_image is not None:
        raise InputError(f"style_image needs a style-swap model (input 'style'), not {metadata.family}")
    key = (
        weights.tobytes() if isinstance(weights, np.ndarray) else b"",
        (options.seed or 0) if any(n.startswith(NOISE_PREFIX) for n in names) else None,
        options.style_digest if STYLE_INPUT in names else "",
    )
    return Choice(extra, key)
