"""Model inputs beyond the image: style choice for multi-style models, and a generic hook.

Multi-style models (``cin``, ``stylebank``) take ``style_weights`` [S] (a convex mix of their
S styles) and StyleBank also ``style_masks`` [N, S, Hm, Wm] (per-pixel convex masks at any
resolution; the graph resizes them). :func:`check_style_values` enforces convexity for every
backend; :func:`style_feeds` turns what a user says (a style index or name, weights, masks)
into those inputs.

Style-swap models take ``strength`` [1] in [0, 1] (the feature-space trade-off, see
:mod:`nst.runtime.controls`); :func:`materialise` feeds 1 when no value is given, so a caller
that knows nothing of it gets the full swap.

Other families plug in through ``ExtraInput`` values keyed by input name: an array, or a
function of the batch's (N, H, W) returning one (noise for texture nets, a style image for
style-swap). Arrays without the spec's leading ``batch`` axis are repeated over the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from nst.contract.noise import NOISE_PREFIX
from nst.contract.spec import TensorSpec
from nst.errors import InputError, did_you_mean

ExtraInput = np.ndarray | Callable[[int, int, int], np.ndarray]
WEIGHTS, MASKS = "style_weights", "style_masks"
STRENGTH = "strength"  # style-swap: swapped features' share, fed 1 by default

TOLERANCE = 1e-3  # |sum - 1| accepted for weights and per-pixel masks
UNIFORM_MASK_SIZE = 16  # uniform masks are fed at the smallest size the graph accepts


def check_style_values(feed: Mapping[str, np.ndarray]) -> None:
    """Raise :class:`InputError` unless ``style_weights``/``style_masks`` (when fed) are convex
    and ``strength`` (when fed) is in [0, 1].

    Weights: non-negative, finite, summing to 1 within 1e-3. Masks: the same per pixel over
    the style axis (axis 1).
    """
    strength = feed.get(STRENGTH)
    if isinstance(strength, np.ndarray) and not np.all((strength >= 0.0) & (strength <= 1.0)):  # NaN too
        raise InputError(f"{STRENGTH} must be in [0, 1], got {strength.ravel().tolist()}")
    for name, axis in ((WEIGHTS, -1), (MASKS, 1)):
        if name not in feed or not isinstance(feed[name], np.ndarray):
            continue
        values = feed[name]
        if not np.all(np.isfinite(values)) or values.min(initial=0.0) < 0:
            raise InputError(f"{name} must be finite and non-negative, got min {values.min(initial=0.0):.4g}")
        sums = values.sum(axis=axis)
        worst = float(np.abs(sums - 1.0).max(initial=0.0))
        if worst > TOLERANCE:
            where = "" if axis == -1 else " at every pixel"
            raise InputError(f"{name} must sum to 1{where} (within {TOLERANCE:g}), off by {worst:.4g}")


def parse_weights(text: str) -> np.ndarray:
    """``"0.3,0.7"`` -> float32 array (no normalisation: bad sums are errors later)."""
    try:
        return np.array([float(v) for v in text.split(",")], np.float32)
    except ValueError:
        raise InputError(f"--style-weights expects comma-separated numbers, got {text!r}") from None


def style_index(style: int | str, names: Sequence[str], num_styles: int) -> int:
    """A style given as an index (int or digits) or a name from the model's metadata."""
    if isinstance(style, str) and style.strip().isdigit():
        style = int(style)
    if isinstance(style, int):
        if not 0 <= style < num_styles:
            raise InputError(f"style index {style} out of range: the model has {num_styles} styles")
        return style
    if style in names:
        return list(names).index(style)
    extra = did_you_mean(style, names)
    raise InputError(f"unknown style {style!r} (model styles: {list(names)}){extra}")


def style_feeds(
    inputs: Sequence[TensorSpec], names: Sequence[str], *, style: int | str | None = None,
    style_weights: Sequence[float] | np.ndarray | None = None, masks: np.ndarray | None = None,
) -> dict[str, ExtraInput]:  # fmt: skip
    """Extra inputs choosing the style of a multi-style model.

    Args:
        inputs: The model's input specs (decides which style inputs exist and S).
        names: Style names from the model's metadata.
        style: One style, by index or name.
        style_weights: A convex mix of all S styles.
        masks: (S, Hm, Wm) or (N, S, Hm, Wm) per-pixel masks (StyleBank region fusion).

    Raises:
        InputError: Both ``style`` and ``style_weights``; a choice the model cannot take;
            a multi-style model given no choice at all.
    """
    specs = {t.name: t for t in inputs}
    if style is not None and style_weights is not None:
        raise InputError("give a style or style weights, not both")
    if WEIGHTS not in specs:
        if style is not None or style_weights is not None or masks is not None:
            raise InputError("this model has one style; style choice and masks need a cin or stylebank model")
        return {}
    num = int(specs[WEIGHTS].shape[0])
    if masks is not None and MASKS not in specs:
        raise InputError("this model takes no style masks; region fusion (--mask) needs a stylebank model")
    if style is not None:
        weights = np.eye(num, dtype=np.float32)[style_index(style, names, num)]
    elif style_weights is not None:
        weights = np.asarray(style_weights, np.float32)
        if weights.shape != (num,):
            raise InputError(f"style weights need {num} values (one per style), got {weights.size}")
    elif masks is not None:
        weights = np.full(num, 1.0 / num, np.float32)  # the masks alone decide
    else:
        raise InputError(
            f"the model mixes {num} styles {list(names)}: choose one with --style NAME|INDEX "
            "(style=) or mix them with --style-weights W1,W2,... (style_weights=)"
        )
    feeds: dict[str, ExtraInput] = {WEIGHTS: weights}
    if MASKS in specs:
        size = UNIFORM_MASK_SIZE
        feeds[MASKS] = np.full((num, size, size), 1.0 / num, np.float32) if masks is None else masks
    return feeds


def materialise(specs: Sequence[TensorSpec], extra: Mapping[str, ExtraInput], n: int, h: int, w: int) -> dict:
    """Arrays for every non-image input of a batch of ``n`` images of ``h`` x ``w``.

    ``strength`` defaults to 1 (the full effect) when ``extra`` has no value for it.

    Raises:
        InputError: An input the model needs has no value.
    """
    feed: dict[str, np.ndarray] = {}
    for spec in specs:
        if spec.name == STRENGTH and STRENGTH not in extra:
            feed[STRENGTH] = np.ones(1, np.float32)  # (1,), as style-swap's ExportSpec declares it
            continue
        if spec.name not in extra:
            doc = f" ({spec.doc})" if spec.doc else ""
            raise InputError(
                f"the model needs input {spec.name!r}{doc}; pass it with inputs={{{spec.name!r}: ...}}"
            )
        value = extra[spec.name]
        array = np.asarray(value(n, h, w) if callable(value) else value, dtype=np.float32)
        if spec.shape and spec.shape[0] == "batch" and array.ndim == len(spec.shape) - 1:
            array = np.ascontiguousarray(np.broadcast_to(array[None], (n, *array.shape)))
        feed[spec.name] = array
    return feed


def load_masks(paths: Sequence[str | Path], num_styles: int) -> np.ndarray:
    """Masks from files: one label image with <= S flat colours, or S grayscale images.

    A label image's distinct colours, sorted by their 0xRRGGBB value, select styles 0, 1, ...
    Grayscale masks are relative weights, normalised per pixel (every pixel needs one > 0).

    Returns:
        (S, H, W) float32 masks summing to 1 per pixel.
    """
    from nst.io import read_image

    if len(paths) == 1:
        rgb = np.round(read_image(paths[0]).rgb * 255).astype(np.int64)  # (H, W, 3)
        codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        colours, labels = np.unique(codes, return_inverse=True)
        if len(colours) > num_styles:
            raise InputError(
                f"mask {paths[0]} has {len(colours)} colours but the model has {num_styles} styles; "
                "use flat colours (no anti-aliasing) or one grayscale mask per style"
            )
        labels = labels.reshape(codes.shape)
        return (labels[None] == np.arange(num_styles)[:, None, None]).astype(np.float32)
    if len(paths) != num_styles:
        raise InputError(f"{len(paths)} grayscale masks given, the model has {num_styles} styles")
    gray = [read_image(p).rgb.mean(axis=2) for p in paths]
    if len({g.shape for g in gray}) != 1:
        raise InputError(f"grayscale masks differ in size: {[g.shape[::-1] for g in gray]}")
    stack = np.stack(gray).astype(np.float32)  # (S, H, W)
    total = stack.sum(axis=0)
    if total.min() <= 0:
        raise InputError("grayscale masks leave pixels where every mask is 0 (black)")
    return stack / total


def noise_feeds(inputs: Sequence[TensorSpec], seed: int | None) -> dict[str, ExtraInput]:
    """Seeded noise for a texture stylization model's ``noise_k`` inputs, sized per batch.

    Every image of H x W gets :func:`nst.runtime.synth.seeded_noise` of (seed, 1, H, W),
    whatever the batch it runs in: the same seed and size give the same output on every
    backend and with any batch size.

    Raises:
        InputError: A seed is given but the model takes no noise, or the seed is negative.
    """
    names = [t.name for t in inputs if t.name.startswith(NOISE_PREFIX)]
    if not names:
        if seed is not None:
            raise InputError("this model takes no noise; a seed applies to texture_style models")
        return {}
    if seed is not None and seed < 0:
        raise InputError(f"seed must be >= 0, got {seed}")
    from nst.contract.noise import seeded_noise

    chosen = 0 if seed is None else seed
    cache: dict[tuple[int, int], dict[str, np.ndarray]] = {}

    def make(name: str) -> Callable[[int, int, int], np.ndarray]:
        def noise(n: int, h: int, w: int) -> np.ndarray:
            if (h, w) not in cache:
                cache.clear()  # one size at a time: big images make big noise
                cache[(h, w)] = seeded_noise(len(names), 1, h, w, chosen)
            one = cache[(h, w)][name]  # (1, 3, h_k, w_k)
            return np.ascontiguousarray(np.broadcast_to(one, (n, *one.shape[1:])))

        return noise

    return {name: make(name) for name in names}
