"""``nst stylize``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from nst.cli.app import app, handle_errors
from nst.errors import InputError, did_you_mean

METHODS = ("feedforward", "gatys", "optimize")
PIXEL_METHODS = ("gatys", "optimize")


def check_method(method: str) -> str:
    """Return ``method`` if it is one of :data:`METHODS`; else an InputError with a hint."""
    if method not in METHODS:
        hint = did_you_mean(method, METHODS)
        raise InputError(f"unknown --method {method!r}{hint}; choose one of {', '.join(METHODS)}")
    return method


@app.command()
@handle_errors
def stylize(
    paths: Annotated[list[Path], typer.Argument(help="[MODEL.onnx|MODEL.plan] INPUT... (files or folders).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file (one input) or folder.")],
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="Model (default: the bundled one).")
    ] = None,
    providers: Annotated[
        str | None, typer.Option(help="ONNX models: auto (default), cpu, cuda or tensorrt.")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per inference call (default 4).")] = None,
    max_pixels: Annotated[
        int | None, typer.Option(help="Refuse inputs larger than this many pixels.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite existing outputs.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    style: Annotated[
        str | None, typer.Option("--style", help="Multi-style models: style index or name.")
    ] = None,
    style_weights: Annotated[
        str | None, typer.Option(help="Multi-style models: convex mix, e.g. 0.3,0.7 (sums to 1).")
    ] = None,
    mask: Annotated[
        list[Path],
        typer.Option(help="StyleBank regions: a label image (flat colours) or a grayscale file per style."),
    ] = [],  # noqa: B006
    method: Annotated[
        str,
        typer.Option(
            help="feedforward (a model), gatys (L-BFGS on pixels, slow; --style: image) or optimize "
            "(style-swap's L-BFGS variant, slow; --style-image)."
        ),
    ] = "feedforward",
    iters: Annotated[int, typer.Option(help="--method gatys/optimize: L-BFGS iterations.")] = 300,
    seed: Annotated[
        int | None, typer.Option(help="texture_style models: seed of the noise inputs (default 0).")
    ] = None,
    style_image: Annotated[
        Path | None,
        typer.Option(
            help="Style-swap models and --method optimize: the style image (short side resized to 256)."
        ),
    ] = None,
) -> None:
    """Stylize images with an exported model (the bundled default when none is given)."""
    from nst.io import DEFAULT_MAX_PIXELS
    from nst.runtime.registry import MODEL_SUFFIXES
    from nst.runtime.stylize_job import StylizeOptions
    from nst.runtime.stylize_job import stylize as run_stylize

    if check_method(method) in PIXEL_METHODS:
        flags = (("--seed", seed), ("--providers", providers), ("--batch-size", batch_size))
        given = [flag for flag, value in flags if value is not None]
        if given:
            raise InputError(f"{', '.join(given)} apply to models, not --method {method} (torch on the CPU)")
        if model is not None or any(p.suffix.lower() in MODEL_SUFFIXES for p in paths):
            raise InputError(f"--method {method} optimises pixels and takes no model; drop the model/--model")
        if style_weights is not None or mask:
            raise InputError(f"--style-weights and --mask apply to multi-style models, not --method {method}")
        from nst.train.pixel import PixelOptions, pixel_stylize

        result = pixel_stylize(PixelOptions(method, tuple(paths), output, style=None if style is None else
                                            Path(style), style_image=style_image, iters=iters, force=force,
                                            max_pixels=max_pixels, progress=progress))  # fmt: skip
        typer.echo(result.summary())
        return
    options = StylizeOptions(
        tuple(paths), output, model=model, providers=providers or "auto",
        batch_size=4 if batch_size is None else batch_size, max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
        force=force, style=style, style_weights=style_weights, masks=tuple(mask), seed=seed,
        style_image=style_image,
    )  # fmt: skip
    with _progress(progress) as on_done:
        stylized = run_stylize(options, on_done=on_done)
    typer.echo(stylized.summary())


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """An ``on_done(done, total)`` callback drawing a tqdm bar for two or more images."""
    from tqdm import tqdm

    bars: list[Any] = []

    def update(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, disable=not enabled or total < 2, desc="stylize", unit="img"))
        bars[0].update(1)

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()
