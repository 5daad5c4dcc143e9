"""``nst upscale``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import app, handle_errors


@app.command()
@handle_errors
def upscale(
    model: Annotated[Path, typer.Argument(help="Exported super-resolution model (.onnx, family sr).")],
    image: Annotated[Path, typer.Argument(help="Low-resolution input image.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image file.")],
    providers: Annotated[str, typer.Option(help="auto, cpu, cuda or tensorrt.")] = "auto",
    force: Annotated[bool, typer.Option(help="Overwrite an existing output.")] = False,
) -> None:
    """Upscale an image x4 or x8 with a Johnson et al. super-resolution model."""
    from nst.runtime.upscale import upscale_file

    start = time.perf_counter()
    result = upscale_file(model, image, output, force=force, providers=providers)
    (w, h), (ow, oh) = result.input_size, result.output_size
    typer.echo(f"upscaled {w}x{h} -> {ow}x{oh} in {time.perf_counter() - start:.2f}s -> {result.path}")
