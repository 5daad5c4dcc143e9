"""Stylization by optimising each photo's pixels (``nst stylize --method gatys|optimize``).

* ``gatys``: Gatys et al. 2016, L-BFGS on the content + Gram style loss (``--style S.jpg``).
* ``optimize``: Chen & Schmidt 2016's optimisation variant of style-swap, L-BFGS towards the
  style-swapped VGG relu3_1 features plus a TV prior (``--style-image S.jpg``); no model.

The job function is :func:`pixel_stylize` (``PixelOptions`` -> ``PixelResult``); the CLI
only builds the options. ``run_gatys_stylize`` / ``run_swap_optimize`` are the per-method
drivers with every knob.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nst.errors import InputError
from nst.jobs import Job, load_style_image, plan_outputs, resize_short_side

PIXEL_METHODS = ("gatys", "optimize")


def _plan(inputs: Sequence[str | Path], output: str | Path, *, size: int | None, force: bool) -> list[Job]:
    """Check ``size`` and plan every output, refusing before any expensive work."""
    if size is not None and size < 16:
        raise InputError(f"--size must be >= 16, got {size}")
    return plan_outputs(inputs, output, force=force)


def _run_per_image(
    jobs: Sequence[Job], stylize: Callable[[np.ndarray], np.ndarray], *, size: int | None, force: bool,
    max_pixels: int | None,
) -> list[Path]:  # fmt: skip
    """Read, resize, ``stylize`` and write each planned job."""
    from nst.io import DEFAULT_MAX_PIXELS, read_image, write_image

    written = []
    for job in jobs:
        image = read_image(job.source, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
        rgb, alpha = _resized(image.rgb, image.alpha, size)
        written.append(write_image(job.target, stylize(rgb), alpha=alpha, force=force))
    return written


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
    from nst.io import read_image
    from nst.train.gatys import GatysConfig, gatys_stylize
    from nst.train.vgg import load_vgg16

    if style is None:
        raise InputError("--method gatys needs a style image: --style S.jpg")
    config = GatysConfig(iterations=iters, device=device, seed=seed, init=init,
                         vgg_weights=None if vgg_weights is None else str(vgg_weights))  # fmt: skip
    style_rgb = read_image(style).rgb
    jobs = _plan(inputs, output, size=size, force=force)
    vgg = load_vgg16(tuple(dict.fromkeys((config.content_layer, *config.style_layers))), config.vgg_weights)

    def stylize(rgb: np.ndarray) -> np.ndarray:
        return gatys_stylize(rgb, style_rgb, config, vgg=vgg, progress=progress).image

    return _run_per_image(jobs, stylize, size=size, force=force, max_pixels=max_pixels)


def run_swap_optimize(
    inputs: Sequence[str | Path], output: str | Path, style_image: str | Path | None, *,
    iters: int = 100, tv_weight: float = 1e-3, style_side: int = 256, size: int | None = None,
    force: bool = False, vgg_weights: str | Path | None = None, device: str = "cpu",
    max_pixels: int | None = None, progress: bool = True,
) -> list[Path]:  # fmt: skip
    """Chen & Schmidt's optimisation variant of style-swap on each input, written to ``output``.

    Each photo is reflect-padded to a multiple of 4 (relu3_1's stride), optimised by
    :func:`nst.train.models.styleswap.styleswap_optimize` from the photo itself, and cropped back.

    Args:
        inputs: Image files and/or folders.
        output: Output file (one input) or folder.
        style_image: The style image; its short side is resized to ``style_side`` (as for
            style-swap models: memory grows with style area x content area).
        iters: L-BFGS iterations per image.
        tv_weight: Weight of the total-variation prior.
        style_side: Short side of the style image in pixels (>= 16).
        size: Resize each photo's short side to this first; None keeps the size.
        force: Overwrite existing outputs.
        vgg_weights: VGG-16 weights file (relu3_1 encoder).
        device: Torch device.
        max_pixels: Refuse inputs larger than this many pixels.
        progress: Show a progress bar per image.

    Returns:
        The files written.

    Raises:
        InputError: No style image, bad iterations/TV weight/sizes, or an unusable output plan.
        OutputExistsError: A target exists and ``force`` is false (nothing is computed).
        WeightsError: No usable VGG-16 weights.
    """
    import torch
    from tqdm import tqdm

    from nst.train.loop import resolve_device
    from nst.train.models.blocks import pad_to_multiple
    from nst.train.models.styleswap import StyleSwapConfig, StyleSwapNet, styleswap_optimize
    from nst.train.vgg import load_vgg16

    if style_image is None:
        raise InputError("--method optimize needs a style image: --style-image S.jpg")
    if iters < 1:
        raise InputError(f"--iters must be >= 1, got {iters}")
    if not np.isfinite(tv_weight) or tv_weight < 0:
        raise InputError(f"tv_weight must be finite and >= 0, got {tv_weight}")
    style = torch.from_numpy(load_style_image(style_image, short_side=style_side))  # (1, 3, Hs, Ws)
    jobs = _plan(inputs, output, size=size, force=force)
    if size is None:  # with --size every short side becomes >= 16
        _check_short_sides([job.source for job in jobs], StyleSwapNet.MIN_SIZE, "--method optimize")
    net = StyleSwapNet(StyleSwapConfig(base_channels=1))  # only the encoder and the swap are used
    net.encoder.load_state_dict(load_vgg16(("relu3_1",), vgg_weights).features.state_dict())
    torch_device = resolve_device(device)
    net = net.to(torch_device).eval()
    style = style.to(torch_device)

    def stylize(rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        if min(h, w) < StyleSwapNet.MIN_SIZE:
            raise InputError(
                f"photo is {w}x{h}; --method optimize needs both sides >= {StyleSwapNet.MIN_SIZE}"
            )
        photo = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None].to(torch_device)
        bar = tqdm(total=iters, disable=not progress, desc="optimize", unit="it")
        out = styleswap_optimize(pad_to_multiple(photo, StyleSwapNet.STRIDE), style, net, steps=iters,
                                 tv_weight=tv_weight, on_iteration=lambda: bar.update(1))  # fmt: skip
        bar.close()
        return np.ascontiguousarray(out[0, :, :h, :w].permute(1, 2, 0).cpu().numpy(), np.float32)

    return _run_per_image(jobs, stylize, size=size, force=force, max_pixels=max_pixels)


def _check_short_sides(paths: Sequence[Path], low: int, what: str) -> None:
    """Refuse, before any work, photos whose short side is below ``low`` (headers only;
    EXIF rotation does not change the short side). Unreadable files are left to the reader."""
    from PIL import Image

    for path in paths:
        try:
            with Image.open(path) as image:
                w, h = image.size
        except Exception:  # corrupt files get read_image's precise error later
            continue
        if min(w, h) < low:
            raise InputError(f"{path.name} is {w}x{h}; {what} needs both sides >= {low}")


def _resized(
    rgb: np.ndarray, alpha: np.ndarray | None, size: int | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Short side to ``size`` (Lanczos), alpha along; unchanged when ``size`` is None."""
    from PIL import Image

    if size is None:
        return rgb, alpha
    out = resize_short_side(rgb, size)
    if alpha is not None:
        new = (out.shape[1], out.shape[0])
        alpha = np.clip(np.asarray(Image.fromarray(alpha).resize(new, Image.Resampling.LANCZOS)), 0, 1)
    return out, alpha


@dataclass(frozen=True)
class PixelOptions:
    """What ``nst stylize --method gatys|optimize`` asks for.

    Attributes:
        method: ``gatys`` or ``optimize``.
        inputs: Image files and/or folders.
        output: Output file (one input) or folder.
        style: The style image of ``gatys`` (``--style``).
        style_image: The style image of ``optimize`` (``--style-image``).
        iters: L-BFGS iterations per image.
        force: Overwrite existing outputs.
        max_pixels: Refuse inputs larger than this many pixels.
        progress: Show a progress bar per image.
    """

    method: str
    inputs: tuple[Path, ...]
    output: Path
    style: Path | None = None
    style_image: Path | None = None
    iters: int = 300
    force: bool = False
    max_pixels: int | None = None
    progress: bool = True


@dataclass(frozen=True)
class PixelResult:
    """Files written by :func:`pixel_stylize`, what made them and how long it took."""

    written: list[Path]
    method: str
    seconds: float
    output: Path

    def summary(self) -> str:
        where = self.written[0] if len(self.written) == 1 else self.output
        return f"stylized {len(self.written)} image(s) with {self.method} in {self.seconds:.1f}s -> {where}"


def pixel_stylize(options: PixelOptions) -> PixelResult:
    """Run ``options.method`` on every input (see :class:`PixelOptions`).

    Raises:
        InputError: Not a pixel method, no inputs, the other method's style option, or what
            the method's driver refuses.
        OutputExistsError: A target exists and ``force`` is false (nothing is computed).
    """
    method = options.method
    if method not in PIXEL_METHODS:
        raise InputError(f"not a pixel method: {method!r} (choose from {', '.join(PIXEL_METHODS)})")
    if not options.inputs:
        raise InputError("no input images given")
    start = time.perf_counter()
    if method == "gatys":
        if options.style_image is not None:
            raise InputError("--method gatys takes its style image as --style S.jpg, not --style-image")
        written = run_gatys_stylize(options.inputs, options.output, options.style, iters=options.iters,
                                    force=options.force, max_pixels=options.max_pixels,
                                    progress=options.progress)  # fmt: skip
        what = f"Gatys L-BFGS ({options.iters} it)"
    else:
        if options.style is not None:
            raise InputError("--method optimize takes its style image as --style-image S.jpg, not --style")
        written = run_swap_optimize(options.inputs, options.output, options.style_image,
                                    iters=options.iters, force=options.force,
                                    max_pixels=options.max_pixels, progress=options.progress)  # fmt: skip
        what = f"style-swap L-BFGS ({options.iters} it)"
    return PixelResult(written, what, time.perf_counter() - start, options.output)
