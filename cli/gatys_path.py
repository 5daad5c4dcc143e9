"""``nst stylize --method gatys``: optimisation-based stylization (Gatys et al. 2016), per file.

Kept apart from :mod:`nst.cli.stylize_cmd`, which only dispatches here, so that command stays
a thin option parser and this path can be called from Python too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

METHODS = ("feedforward", "gatys")


def check_method(method: str) -> str:
    """Return ``method`` if it is one of :data:`METHODS`; else an InputError with a hint."""
    import difflib

    from nst.errors import InputError

    if method not in METHODS:
        hint = difflib.get_close_matches(method, METHODS, n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise InputError(f"unknown --method {method!r}{extra}; choose one of {', '.join(METHODS)}")
    return method


def run_gatys_stylize(
    inputs: Sequence[str | Path], output: str | Path, style: str | Path | None, *, iters: int = 300,
    size: int | None = None, force: bool = False, vgg_weights: str | Path | None = None,
    device: str = "cpu", seed: int = 0, init: str = "content", max_pixels: int | None = None,
    progress: bool = True,
) -> list[Path]:  # fmt: skip
    """Stylize each input by L-BFGS on its pixels and write the results.

    The objective is :class:`nst.train.config.TrainConfig`'s default training loss, so the
    images show what a feed-forward net trained with those defaults aims at.

    Args:
        inputs: Image files and/or folders.
        output: Output file (one input) or folder (``<stem>.png`` per input).
        style: The style image (required).
        iters: L-BFGS iterations per image.
        size: Resize each photo's short side to this first (Gatys is slow on big images);
            None keeps the size.
        force: Overwrite existing outputs.
        vgg_weights: VGG-16 weights file for the loss network.
        device: Torch device (``cpu``, ``cuda``, ``auto``).
        seed: Seed (noise init).
        init: ``content`` or ``noise``.
        max_pixels: Refuse inputs larger than this many pixels.
        progress: Show a progress bar per image.

    Returns:
        The files written.

    Raises:
        InputError: No style, bad iterations/size/init, or an unusable output plan.
        OutputExistsError: A target exists and ``force`` is false (nothing is computed).
    """
    from nst.errors import InputError
    from nst.io import DEFAULT_MAX_PIXELS, read_image, write_image
    from nst.runtime.stylizer import plan_outputs
    from nst.train.gatys import GatysConfig, gatys_stylize
    from nst.train.vgg import load_vgg16

    if style is None:
        raise InputError("--method gatys needs a style image: --style S.jpg")
    if size is not None and size < 16:
        raise InputError(f"--size must be >= 16, got {size}")
    config = GatysConfig(iterations=iters, device=device, seed=seed, init=init,
                         vgg_weights=None if vgg_weights is None else str(vgg_weights))  # fmt: skip
    jobs = plan_outputs(inputs, output, force=force)  # every target checked before any work
    style_rgb = read_image(style).rgb
    vgg = load_vgg16(tuple(dict.fromkeys((config.content_layer, *config.style_layers))), config.vgg_weights)
    written = []
    for job in jobs:
        image = read_image(job.source, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
        rgb, alpha = _resized(image.rgb, image.alpha, size)
        result = gatys_stylize(rgb, style_rgb, config, vgg=vgg, progress=progress)
        written.append(write_image(job.target, result.image, alpha=alpha, force=force))
    return written


def _resized(
    rgb: np.ndarray, alpha: np.ndarray | None, size: int | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Short side to ``size`` (Lanczos), alpha along; unchanged when ``size`` is None."""
    from PIL import Image

    from nst.train.data import resize_short_side

    if size is None:
        return rgb, alpha
    out = resize_short_side(rgb, size)
    if alpha is not None:
        new = (out.shape[1], out.shape[0])
        alpha = np.clip(np.asarray(Image.fromarray(alpha).resize(new, Image.Resampling.LANCZOS)), 0, 1)
    return out, alpha


def stylize_gatys_cli(
    paths: Sequence[Path], output: Path, *, model: Path | None, style: str | None, iters: int,
    force: bool, max_pixels: int | None, progress: bool, model_options: bool,
) -> str:  # fmt: skip
    """What ``nst stylize --method gatys`` does: check the options, run, return the summary line.

    Args:
        paths: The command's positional paths (a leading ``.onnx`` is refused: no model is used).
        output: Output file or folder.
        model: ``--model`` (refused).
        style: ``--style``, here the style image path.
        iters: ``--iters``.
        force: ``--force``.
        max_pixels: ``--max-pixels``.
        progress: ``--progress``.
        model_options: Whether model-only options (``--style-weights``, ``--mask``) were given.

    Raises:
        InputError: A model or model-only option given, no inputs, or no style.
    """
    import time

    from nst.errors import InputError

    if model is not None or any(Path(p).suffix.lower() == ".onnx" for p in paths):
        raise InputError("--method gatys optimises pixels and takes no model; drop the .onnx/--model")
    if model_options:
        raise InputError("--style-weights and --mask apply to multi-style models, not --method gatys")
    if not paths:
        raise InputError("no input images given")
    start = time.perf_counter()
    written = run_gatys_stylize(paths, output, style, iters=iters, force=force, max_pixels=max_pixels,
                                progress=progress)  # fmt: skip
    where = written[0] if len(written) == 1 else output
    seconds = time.perf_counter() - start
    return f"stylized {len(written)} image(s) with Gatys L-BFGS ({iters} it) in {seconds:.1f}s -> {where}"
