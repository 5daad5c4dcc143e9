"""``nst stylize``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import app, handle_errors


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
    from tqdm import tqdm

    from nst.cli.pixel_methods import PIXEL_METHODS, check_method, stylize_pixels_cli
    from nst.errors import InputError
    from nst.io import DEFAULT_MAX_PIXELS
    from nst.runtime.registry import MODEL_SUFFIXES
    from nst.runtime.style_inputs import load_masks, parse_weights
    from nst.runtime.stylizer import Stylizer, plan_outputs

    if check_method(method) in PIXEL_METHODS:
        flags = (("--seed", seed), ("--providers", providers), ("--batch-size", batch_size))
        given = [flag for flag, value in flags if value is not None]
        if given:
            raise InputError(f"{', '.join(given)} apply to models, not --method {method} (torch on the CPU)")
        summary = stylize_pixels_cli(method, paths, output, model=model, style=style, style_image=style_image,
                                     iters=iters, force=force, max_pixels=max_pixels, progress=progress,
                                     model_options=style_weights is not None or bool(mask))  # fmt: skip
        typer.echo(summary)
        return
    inputs = list(paths)
    if inputs and inputs[0].suffix.lower() in MODEL_SUFFIXES:
        if model is not None:
            raise InputError(f"two models given: {model} and {inputs[0]}")
        model = inputs.pop(0)
    if not inputs:
        raise InputError("no input images given")
    jobs = plan_outputs(inputs, output, force=force)  # every target checked before any work
    start = time.perf_counter()
    with Stylizer(model, providers=providers or "auto", batch_size=4 if batch_size is None else batch_size,
                  max_pixels=max_pixels or DEFAULT_MAX_PIXELS, seed=seed) as stylizer:  # fmt: skip
        weights = parse_weights(style_weights) if style_weights is not None else None
        shapes = {t.name: t.shape for t in stylizer.extra_specs}
        if mask and "style_masks" not in shapes:
            raise InputError(f"--mask needs a stylebank model, not {stylizer.runner.metadata.family}")
        masks = load_masks(mask, int(shapes["style_masks"][1])) if mask else None
        if style is not None or weights is not None or masks is not None:
            stylizer.extra = stylizer.extra_inputs(style=style, style_weights=weights, masks=masks)
        if style_image is not None:
            from nst.runtime.style_image import style_image_feed

            meta = stylizer.runner.metadata
            feed = style_image_feed(stylizer.runner.spec.inputs, meta.family, style_image)
            stylizer.extra = {**(stylizer.extra or {}), **feed}
        bar = tqdm(total=len(jobs), disable=not progress or len(jobs) < 2, desc="stylize", unit="img")
        stylizer.run_jobs(jobs, force=force, on_done=lambda _job: bar.update(1))
        bar.close()
        name = Path(stylizer.runner.path or "model").name
        used = stylizer.runner.label
    where = jobs[0].target if len(jobs) == 1 else output
    typer.echo(
        f"stylized {len(jobs)} image(s) with {name} [{used}] in {time.perf_counter() - start:.2f}s -> {where}"
    )
