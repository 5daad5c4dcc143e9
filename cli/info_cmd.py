"""``nst info``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import app, handle_errors


@app.command()
@handle_errors
def info(
    model: Annotated[
        Path | None, typer.Argument(help="ONNX model or TensorRT engine (.plan); default: the bundled model.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a model's inputs, outputs, dynamic axes and metadata (an engine's from its sidecar)."""
    from nst.runtime.registry import describe_model
    from nst.runtime.stylizer import default_model_path

    path = model or default_model_path()
    meta, engine = describe_model(path)
    spec = meta.spec
    data = {
        "model": str(path),
        "inputs": [
            {"name": t.name, "shape": list(t.shape), "dtype": t.dtype, "range": t.range, "doc": t.doc}
            for t in spec.inputs
        ],
        "outputs": [
            {"name": t.name, "shape": list(t.shape), "dtype": t.dtype, "range": t.range} for t in spec.outputs
        ],
        "min_size": spec.min_size,
        "pad_multiple": spec.pad_multiple,
        "opset": spec.opset,
        **meta.describe(),
        **({"engine": engine} if engine else {}),
    }
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for key in ("model", "family", "styles", "version", "opset", "min_size", "pad_multiple"):
        typer.echo(f"{key:>13}: {data[key]}")
    for kind in ("inputs", "outputs"):
        for t in data[kind]:
            typer.echo(f"{kind[:-1]:>13}: {t['name']} {t['dtype']}{t['shape']} range {t['range']}")
    for key in ("nst.model_config", "nst.train_config", "nst.train_step"):
        if key in data:
            typer.echo(f"{key.removeprefix('nst.'):>13}: {json.dumps(data[key])}")
    for key, value in engine.items():
        typer.echo(f"{key:>13}: {value}")
