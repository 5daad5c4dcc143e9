"""``nst calibrate``: FP16 or INT8 (QDQ) model from an FP32 export, with an optional report."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from nst.cli.app import app, handle_errors, human_bytes


def _check_flags(
    precision: str, fp16_io: bool, report: Path | None, eval_data: Path | None, trt_cache: Path | None,
    force: bool, **int8_flags: object,
) -> None:  # fmt: skip
    """Refuse flag combinations that would be ignored, before any work (never rewrite them)."""
    from nst.errors import InputError, OutputExistsError, require

    if precision not in ("int8", "fp16"):
        raise InputError(f"--precision must be int8 or fp16, got {precision!r}")
    used = [f"--{k.replace('_', '-')}" for k, v in {**int8_flags, "trt_cache": trt_cache}.items() if v]
    if precision != "int8" and used:
        raise InputError(f"{', '.join(used)} only apply to --precision int8")
    if fp16_io and precision != "fp16":
        raise InputError("--fp16-io only applies to --precision fp16")
    if (report is None) != (eval_data is None):
        raise InputError("--report and --eval-data go together: the report measures held-out images")
    if trt_cache is not None:
        require("tensorrt", "trt")
        if trt_cache.exists() and not force:
            raise OutputExistsError(f"{trt_cache} already exists; use --force to overwrite")


def _bar(total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="img", leave=False)


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
    trt_cache: Annotated[
        Path | None, typer.Option(help="int8: also write a TensorRT calibration cache.")
    ] = None,
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
    from nst.calibration.source import CalibrationMethod, ImageFolderSource
    from nst.errors import require

    require("onnx", "train")
    _check_flags(precision, fp16_io, report, eval_data, trt_cache, force, method=method, exclude=exclude,
                 per_tensor=per_tensor, reduce_range=reduce_range)  # fmt: skip
    chosen = CalibrationMethod.parse(method or "percentile")
    source = ImageFolderSource(data, size=size, limit=limit, seed=seed)
    evaluation = ImageFolderSource(eval_data, size=eval_size) if eval_data is not None else None
    if evaluation is not None and report is not None:  # fail before minutes of calibration, not after
        from nst.calibration.report import check_disjoint, check_report_dir

        check_report_dir(report, force)
        check_disjoint(evaluation, source)
    opts = _int8_options(chosen, exclude, per_tensor, reduce_range)
    result = _convert(precision, model, output, source, opts, fp16_io, force)
    size_text = human_bytes(result.size_bytes)
    line = (
        f"wrote {result.path} ({size_text}, {precision}) in {result.seconds:.1f}s; "
        f"PSNR vs FP32 {result.psnr_db:.1f} dB on {min(len(source), 2)} calibration image(s)"
    )
    if precision == "int8":
        quantized, kept = len(result.details["quantized_nodes"]), len(result.details["excluded_nodes"])
        line += f"; {quantized} nodes INT8, {kept} kept float"
    if trt_cache is not None:
        from nst.calibration.trt_calibrator import write_trt_cache

        write_trt_cache(model, source, trt_cache, batch_size=min(8, len(source)), force=force)
        line += f"; TensorRT cache {trt_cache}"
    if report is not None and evaluation is not None:
        line += "; " + _report(model, precision, result, source, evaluation, opts, report, latency_size,
                               latency_runs, force)  # fmt: skip
    typer.echo(line)


def _int8_options(method: Any, exclude: list[str] | None, per_tensor: bool, reduce_range: bool) -> Any:
    from nst.calibration.int8 import DEFAULT_EXCLUDE, Int8Options

    return Int8Options(method=method, per_channel=not per_tensor, reduce_range=reduce_range,
                       exclude=tuple(exclude) if exclude else DEFAULT_EXCLUDE)  # fmt: skip


def _convert(
    precision: str, model: Path, output: Path, source: Any, opts: Any, fp16_io: bool, force: bool
) -> Any:
    """Run the requested conversion (with a progress bar for INT8 calibration)."""
    if precision == "fp16":
        from nst.calibration.fp16 import convert_fp16
        from nst.calibration.source import take

        return convert_fp16(model, output, keep_io_types=not fp16_io, validation_feeds=take(source, 2),
                            force=force)  # fmt: skip
    from nst.calibration.int8 import quantize_int8

    with _bar(len(source), f"calibrate ({opts.method.value})") as bar:
        return quantize_int8(model, output, source, opts, force=force, on_feed=lambda: bar.update(1))


def _report(model: Path, precision: str, result: Any, source: Any, evaluation: Any, opts: Any,
            out_dir: Path, latency_size: int, latency_runs: int, force: bool) -> str:  # fmt: skip
    """Build the other precision in a temp folder, measure all three, return a summary."""
    from nst.calibration.report import ReportOptions, build_report

    with tempfile.TemporaryDirectory(prefix="nst-report-") as tmp:
        other = "fp16" if precision == "int8" else "int8"
        companion = _convert(other, model, Path(tmp) / f"model.{other}.onnx", source, opts, False, True)
        models = {"fp32": model, precision: result.path, other: companion.path}
        details = {precision: result.details, other: companion.details}
        extra = {"conversion": details, "companion": f"{other} built with default options, then discarded"}
        options = ReportOptions(latency_size, latency_runs)
        rep = build_report(models, evaluation, source, out_dir, options, extra=extra, force=force)
    q, lat = rep["quality_vs_fp32"], rep["latency_ort_cpu"]
    fp16, int8 = q["fp16"]["psnr_db_min"], q["int8"]["psnr_db_min"]
    return (
        f"report {out_dir}: min PSNR on {len(evaluation)} held-out FP16 {fp16:.1f} dB, INT8 {int8:.1f} dB; "
        f"INT8/FP32 CPU latency {lat['int8_over_fp32']:.2f}x"
    )
