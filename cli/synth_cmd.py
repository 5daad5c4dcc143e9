"""``nst synth``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import app, handle_errors


@app.command()
@handle_errors
def synth(
    model: Annotated[Path, typer.Argument(help="Exported texture network (.onnx, family texture).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image file.")],
    size: Annotated[str, typer.Option(help="WIDTHxHEIGHT of the texture.")] = "512x512",
    seed: Annotated[int, typer.Option(help="Noise seed: the same seed and size give the same image.")] = 0,
    providers: Annotated[str, typer.Option(help="auto, cpu, cuda or tensorrt.")] = "auto",
    force: Annotated[bool, typer.Option(help="Overwrite an existing output.")] = False,
) -> None:
    """Synthesize a texture of any size with a texture network (Ulyanov et al. 2016)."""
    from nst.runtime.synth import parse_size, synth_file

    start = time.perf_counter()
    result = synth_file(model, parse_size(size), seed, output, force=force, providers=providers)
    w, h = result.size
    typer.echo(f"synthesized {w}x{h} (seed {seed}) in {time.perf_counter() - start:.2f}s -> {result.path}")
