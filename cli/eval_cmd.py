"""``nst eval``: a model's perceptual loss and speed against Gatys et al.'s optimisation."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import app, handle_errors


def parse_iters(text: str) -> list[int]:
    """``"50,100,300"`` -> ``[50, 100, 300]``; anything else is an InputError."""
    from nst.errors import InputError

    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"--iters expects comma-separated positive integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise InputError(f"--iters expects comma-separated positive integers, got {text!r}")
    return values


@app.command("eval")
@handle_errors
def eval_(
    model: Annotated[Path, typer.Argument(help="Exported .onnx model to evaluate.")],
    content: Annotated[Path, typer.Option("--content", help="Folder of held-out photos.")],
    style: Annotated[Path, typer.Option("--style", help="The style image the model was trained on.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Report folder (JSON, markdown, grid).")],
    size: Annotated[int, typer.Option(help="Short side the photos are resized to.")] = 256,
    iters: Annotated[str, typer.Option(help="Gatys iteration counts, comma-separated.")] = "50,100,300",
    limit: Annotated[int | None, typer.Option(help="Use only the first N photos.")] = None,
    vgg_weights: Annotated[Path | None, typer.Option(help="VGG-16 weights file.")] = None,
    providers: Annotated[str, typer.Option(help="ONNX Runtime providers for the model.")] = "cpu",
    device: Annotated[str, typer.Option(help="Torch device for losses and Gatys.")] = "cpu",
    gatys_cache: Annotated[
        Path | None, typer.Option(help="Folder to keep and reuse Gatys results in.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing report.")] = False,
    progress: Annotated[bool, typer.Option(help="Show Gatys progress bars.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report's summary as JSON.")] = False,
) -> None:
    """Score a model and Gatys L-BFGS by the model's training loss on held-out photos."""
    from nst.bench.evaluate import evaluate_model

    start = time.perf_counter()
    report = evaluate_model(
        model, content, style, output, size=size, iters=parse_iters(iters), limit=limit,
        vgg_weights=vgg_weights, providers=providers, device=device, gatys_cache=gatys_cache,
        force=force, progress=progress,
    )  # fmt: skip
    summary = report.summary()
    if as_json:
        record = {"model": str(model), "images": len(report.images), "output": str(output),
                  "seconds": time.perf_counter() - start, **summary}  # fmt: skip
        typer.echo(json.dumps(record))
        return
    m = summary["means"]["model"]
    line = (f"evaluated {model.name} on {len(report.images)} photo(s): model loss {m['total']:.4g} "
            f"in {m['seconds'] * 1000:.1f} ms/img")  # fmt: skip
    if "target" in summary:
        t = summary["target"]
        ref = summary["means"][t["reference"]]
        line += (f", {t['reference']} {ref['total']:.4g} in {ref['seconds']:.1f} s/img: "
                 f"{t['loss_ratio']:.2f}x loss at {t['speedup']:.0f}x speed (target "
                 f"{'met' if t['met'] else 'missed'})")  # fmt: skip
    typer.echo(f"{line} [{time.perf_counter() - start:.0f}s] -> {output}")
