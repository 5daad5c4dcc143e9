"""``nst info``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nst.cli.app import app, handle_errors

if TYPE_CHECKING:
    from nst.runtime.registry import ModelDescription


@app.command()
@handle_errors
def info(
    model: Annotated[
        Path | None, typer.Argument(help="ONNX model or TensorRT engine (.plan); default: the bundled model.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show any ONNX model's or engine's inputs, outputs, dynamic axes, opset and metadata."""
    from nst.runtime.registry import describe_model
    from nst.runtime.stylizer import default_model_path

    path = model or default_model_path()
    described = describe_model(path)
    if described.metadata is None:
        _show_plain(described, as_json)
        return
    meta, engine = described.metadata, described.details
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


def _show_plain(described: ModelDescription, as_json: bool) -> None:
    """An ONNX file without nst metadata: its graph as ONNX Runtime reads it.

    Shapes hold ints (fixed), strings (named dynamic axes) and None (unnamed dynamic axes).
    """
    data = {
        "model": str(described.path),
        "nst_metadata": False,
        "producer": described.producer,
        "opset": described.opset,
        "inputs": [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype} for t in described.inputs],
        "outputs": [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype} for t in described.outputs],
    }
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for key in ("model", "producer", "opset"):
        typer.echo(f"{key:>13}: {data[key] if data[key] not in (None, '') else '?'}")
    for kind in ("inputs", "outputs"):
        for t in data[kind]:
            shape = ", ".join("?" if d is None else str(d) for d in t["shape"])
            typer.echo(f"{kind[:-1]:>13}: {t['name']} {t['dtype']}[{shape}]")
    typer.echo(f"{'nst metadata':>13}: none (not exported by nst: stylize needs `nst export` metadata)")
