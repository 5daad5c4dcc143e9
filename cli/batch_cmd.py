"""``nst batch``: stylize a folder (a big corpus) on a Ray actor pool, locally or on a cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import (
    MaskOption,
    SeedOption,
    StyleOption,
    StyleWeightsOption,
    app,
    handle_errors,
    progress_bar,
)


@app.command()
@handle_errors
def batch(
    paths: Annotated[
        list[Path], typer.Argument(help="[MODEL.onnx|MODEL.plan] INPUT_DIR... (folders or files).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder (names kept, .png).")],
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="Model (default: the bundled one).")
    ] = None,
    actors: Annotated[
        int | None, typer.Option(help="Ray actors, one model each (default: one per GPU, else per node).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Images per map_batches call and inference.")] = 4,
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster (host:6379, ray://host:10001, auto); default: ray.init()'s choice."),
    ] = None,
    cpus_per_actor: Annotated[
        float | None, typer.Option(help="CPUs each actor reserves (default: the CPUs shared out evenly).")
    ] = None,
    gpus_per_actor: Annotated[
        float | None, typer.Option(help="GPUs each actor reserves (default: 1 where the cluster has GPUs).")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="ONNX Runtime threads per actor (default: its CPUs).")
    ] = None,
    providers: Annotated[str, typer.Option(help="ONNX models: auto, cpu, cuda or tensorrt.")] = "auto",
    max_pixels: Annotated[int | None, typer.Option(help="Skip inputs larger than this many pixels.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite existing outputs.")] = False,
    resume: Annotated[
        bool, typer.Option(help="Skip inputs whose output exists (finish a stopped job).")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    style: StyleOption = None,
    style_weights: StyleWeightsOption = None,
    mask: MaskOption = [],  # noqa: B006
    seed: SeedOption = None,
    style_image: Annotated[
        Path | None, typer.Option(help="Style-swap models: the style image (short side resized to 256).")
    ] = None,
) -> None:
    """Stylize a corpus with Ray Data: one model per actor, outputs named like the inputs.

    Unusable images (corrupt, unreadable, too large or too small) are skipped: each is listed
    after the summary line and the exit code is 1. Any other error stops the job.
    """
    from nst.io import DEFAULT_MAX_PIXELS
    from nst.runtime.batch_ray import BatchOptions, batch_stylize
    from nst.runtime.stylize_job import StylizeOptions

    stylize = StylizeOptions(
        tuple(paths), output, model=model, providers=providers, batch_size=batch_size,
        max_pixels=max_pixels or DEFAULT_MAX_PIXELS, force=force, style=style, style_weights=style_weights,
        masks=tuple(mask), seed=seed, style_image=style_image,
    )  # fmt: skip
    options = BatchOptions(
        stylize, actors=actors, cpus_per_actor=cpus_per_actor, gpus_per_actor=gpus_per_actor,
        threads=threads, resume=resume, ray_address=ray_address,
    )  # fmt: skip
    with progress_bar(progress, desc="batch", unit="img", min_total=2) as on_done:
        result = batch_stylize(options, on_done=on_done)
    typer.echo(result.summary())
    for _source, reason in result.skipped:
        typer.echo(f"skipped: {reason}", err=True)
    if result.skipped:
        raise typer.Exit(1)
