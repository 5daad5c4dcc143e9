"""``nst export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import app, handle_errors, human_bytes


@app.command()
@handle_errors
def export(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint written by nst train.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Destination .onnx file.")],
    validate: Annotated[
        bool, typer.Option(help="Check ONNX Runtime against PyTorch at several sizes.")
    ] = True,
    opset: Annotated[int | None, typer.Option(help="ONNX opset (default: the family's spec).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output.")] = False,
) -> None:
    """Export a checkpoint to ONNX (dynamic batch/height/width) and validate it."""
    from nst.errors import require

    require("torch", "train")
    require("onnx", "train")
    from nst.export.onnx_export import export_checkpoint

    result = export_checkpoint(checkpoint, output, validate=validate, force=force, opset=opset)
    checks = "; ".join(f"{n}x{h}x{w}: {c.max_abs_diff:.2g}" for c in result.checks for n, h, w in [c.shape])
    note = f"max |onnx - torch| {checks}" if checks else "not validated"
    typer.echo(f"exported {result.path} ({human_bytes(result.size_bytes)}) in {result.seconds:.1f}s, {note}")
