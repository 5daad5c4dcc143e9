"""``nst calibrate``: FP16 or INT8 (Q/DQ) model from an FP32 export, with an optional report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import app, handle_errors


@app.command()
@handle_errors
def calibrate(
    model: Annotated[Path, typer.Argument(help="FP32 ONNX model from nst export.")],
    data: Annotated[Path, typer.Option("--data", help="Calibration images (folder).")],
    precision: Annotated[str, typer.Option("--precision", help="int8 (QDQ) or fp16.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Destination .onnx file.")],
    method: Annotated[str | None, typer.Option(help="int8: percentile (default), minmax, entropy.")] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(help="int8: keep nodes in float (repeat): @first-conv, @last-conv, op:TYPE, glob."),
    ] = None,
    per_tensor: Annotated[bool, typer.Option(help="int8: one weight scale per tensor.")] = False,
    reduce_range: Annotated[bool, typer.Option(help="int8: 7-bit weights (x86 without VNNI).")] = False,
    fp16_io: Annotated[bool, typer.Option(help="fp16: float16 inputs/outputs too.")] = False,
    size: Annotated[int, typer.Option(help="Calibration crop side in pixels.")] = 256,
    limit: Annotated[int | None, typer.Option(help="Use at most N calibration images.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the --limit subset.")] = 0,
    report: Annotated[Path | None, typer.Option(help="Write a quality report (JSON + grid) here.")] = None,
    eval_data: Annotated[Path | None, typer.Option(help="Held-out images for --report.")] = None,
    eval_size: Annotated[int, typer.Option(help="Held-out crop side for --report.")] = 512,
    latency_size: Annotated[int, typer.Option(help="Latency input side for --report.")] = 512,
    latency_runs: Annotated[int, typer.Option(help="Timed runs per model for --report.")] = 10,
    force: Annotated[bool, typer.Option(help="Overwrite existing outputs.")] = False,
) -> None:
    """Convert an FP32 model to FP16 or calibrated INT8 (QDQ), validated against FP32."""
    from tqdm import tqdm

    from nst.calibration.job import CalibrateOptions
    from nst.calibration.job import calibrate as run_calibration

    options = CalibrateOptions(
        model, data, precision, output, method=method, exclude=tuple(exclude or ()), per_tensor=per_tensor,
        reduce_range=reduce_range, fp16_io=fp16_io, size=size, limit=limit, seed=seed, report=report,
        eval_data=eval_data, eval_size=eval_size, latency_size=latency_size, latency_runs=latency_runs,
        force=force,
    )  # fmt: skip
    with tqdm(desc=f"calibrate ({method or 'percentile'})", unit="img", leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(1)

        result = run_calibration(options, progress=progress)
    typer.echo(result.summary())
