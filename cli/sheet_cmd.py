"""``nst sheet``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import app, handle_errors


@app.command()
@handle_errors
def sheet(
    photo: Annotated[Path, typer.Argument(help="The photo every tile shows.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Sheet image (.png, .jpg, ...).")],
    model: Annotated[
        list[Path] | None,
        typer.Option("--model", "-m", help="Model or engine (repeat; default: the bundled multi-style one)."),
    ] = None,
    columns: Annotated[int | None, typer.Option(help="Tiles per row (default: up to 4).")] = None,
    tile_size: Annotated[int, typer.Option(help="Short side of each tile, in pixels.")] = 256,
    providers: Annotated[str, typer.Option(help="ONNX Runtime providers.")] = "auto",
    force: Annotated[bool, typer.Option(help="Overwrite an existing sheet.")] = False,
) -> None:
    """A contact sheet: the photo, then every style of a model (or each model), labelled."""
    from nst.runtime.sheet import SheetOptions, contact_sheet

    options = SheetOptions(photo, output, models=tuple(model or ()), columns=columns, tile_size=tile_size,
                           providers=providers, force=force)  # fmt: skip
    typer.echo(contact_sheet(options).summary())
