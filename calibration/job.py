"""``nst calibrate`` as a library call: ``calibrate(CalibrateOptions) -> CalibrateResult``.

FP16 (``nst.calibration.fp16``) or INT8 Q/DQ (``nst.calibration.int8``) from an FP32 export,
validated against FP32, with an optional quality report that measures FP32, FP16 and INT8
side by side (the precision not asked for is built in a temp folder and discarded). Every
option that would be ignored is an error before any work; the report folder and the
held-out/calibration overlap are checked before minutes of calibration, not after.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nst.calibration.artifact import ConversionResult
from nst.calibration.source import CalibrationMethod, CalibrationSource, ImageFolderSource
from nst.errors import InputError

PRECISIONS = ("int8", "fp16")
Progress = Callable[[int, int], None]  # (done, total) per calibration image


@dataclass(frozen=True)
class CalibrateOptions:
    """What ``nst calibrate`` asks for.

    Attributes:
        model: FP32 ONNX model from ``nst export``.
        data: Calibration images (folder).
        precision: ``int8`` (Q/DQ) or ``fp16``.
        output: Destination ``.onnx`` file.
        method: INT8: ``percentile`` (default), ``minmax`` or ``entropy``.
        exclude: INT8: nodes kept in float (``@first-conv``, ``@last-conv``, ``op:TYPE``, globs).
        per_tensor: INT8: one weight scale per tensor instead of per channel.
        reduce_range: INT8: 7-bit weights (x86 without VNNI).
        fp16_io: FP16: float16 inputs and outputs too.
        size: Calibration crop side in pixels.
        limit: Use at most this many calibration images.
        seed: Seed of the ``limit`` subset.
        report: Write a quality report (JSON + grid) into this folder.
        eval_data: Held-out images for the report.
        eval_size: Held-out crop side for the report.
        latency_size: Latency input side for the report.
        latency_runs: Timed runs per model for the report.
        force: Overwrite existing outputs.
    """

    model: Path
    data: Path
    precision: str
    output: Path
    method: str | None = None
    exclude: tuple[str, ...] = ()
    per_tensor: bool = False
    reduce_range: bool = False
    fp16_io: bool = False
    size: int = 256
    limit: int | None = None
    seed: int = 0
    report: Path | None = None
    eval_data: Path | None = None
    eval_size: int = 512
    latency_size: int = 512
    latency_runs: int = 10
    force: bool = False

    def check(self) -> None:
        """Refuse combinations that would be ignored (never rewrite them).

        Raises:
            InputError: Naming the flags.
        """
        if self.precision not in PRECISIONS:
            raise InputError(f"--precision must be int8 or fp16, got {self.precision!r}")
        int8_only = {"--method": self.method, "--exclude": self.exclude, "--per-tensor": self.per_tensor,
                     "--reduce-range": self.reduce_range}  # fmt: skip
        used = [flag for flag, value in int8_only.items() if value]
        if self.precision != "int8" and used:
            raise InputError(f"{', '.join(used)} only apply to --precision int8")
        if self.fp16_io and self.precision != "fp16":
            raise InputError("--fp16-io only applies to --precision fp16")
        if (self.report is None) != (self.eval_data is None):
            raise InputError("--report and --eval-data go together: the report measures held-out images")


@dataclass(frozen=True)
class CalibrateResult:
    """The converted model and, with a report, its summary figures."""

    conversion: ConversionResult
    calibration_images: int
    report: dict[str, Any] | None = None
    report_dir: Path | None = None
    held_out: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        from nst.artifacts import human_size

        r = self.conversion
        line = (
            f"wrote {r.path} ({human_size(r.size_bytes)}, {r.precision}) in {r.seconds:.1f}s; "
            f"PSNR vs FP32 {r.psnr_db:.1f} dB on {min(self.calibration_images, 2)} calibration image(s)"
        )
        if r.precision == "int8":
            quantized, kept = len(r.details["quantized_nodes"]), len(r.details["excluded_nodes"])
            line += f"; {quantized} nodes INT8, {kept} kept float"
        if self.report is not None:
            q, lat = self.report["quality_vs_fp32"], self.report["latency_ort_cpu"]
            line += (
                f"; report {self.report_dir}: min PSNR on {self.held_out} held-out FP16 "
                f"{q['fp16']['psnr_db_min']:.1f} dB, INT8 {q['int8']['psnr_db_min']:.1f} dB; "
                f"INT8/FP32 CPU latency {lat['int8_over_fp32']:.2f}x"
            )
        return line


def calibrate(options: CalibrateOptions, progress: Progress | None = None) -> CalibrateResult:
    """Convert ``options.model`` to ``options.precision`` and (optionally) write a report.

    Raises:
        InputError: Ignored or contradictory options.
        OutputExistsError: The output or report exists and ``force`` is false.
        CalibrationError: The converted model is too far from FP32.
        MissingDependencyError: ``onnx`` is not installed.
    """
    from nst.errors import require

    require("onnx", "train")
    options.check()
    source = ImageFolderSource(options.data, size=options.size, limit=options.limit, seed=options.seed)
    evaluation = None
    if options.eval_data is not None and options.report is not None:
        from nst.calibration.report import check_disjoint, check_report_dir

        evaluation = ImageFolderSource(options.eval_data, size=options.eval_size)
        check_report_dir(options.report, options.force)
        check_disjoint(evaluation, source)
    result = convert(options.precision, options.model, options.output, source, options, progress=progress)
    if evaluation is None or options.report is None:
        return CalibrateResult(result, len(source))
    report = _report(options, result, source, evaluation)
    return CalibrateResult(result, len(source), report, options.report, len(evaluation))


def int8_options(options: CalibrateOptions) -> Any:
    """The :class:`~nst.calibration.int8.Int8Options` the CLI options name."""
    from nst.calibration.int8 import DEFAULT_EXCLUDE, Int8Options

    return Int8Options(method=CalibrationMethod.parse(options.method or "percentile"),
                       per_channel=not options.per_tensor, reduce_range=options.reduce_range,
                       exclude=options.exclude or DEFAULT_EXCLUDE)  # fmt: skip


def convert(
    precision: str, model: Path, output: Path, source: CalibrationSource, options: CalibrateOptions, *,
    force: bool | None = None, progress: Progress | None = None,
) -> ConversionResult:  # fmt: skip
    """Run one conversion (``fp16`` or ``int8``) of ``model`` into ``output``."""
    from nst.calibration.source import take

    force = options.force if force is None else force
    if precision == "fp16":
        from nst.calibration.fp16 import convert_fp16

        return convert_fp16(model, output, keep_io_types=not options.fp16_io,
                            validation_feeds=take(source, 2), force=force)  # fmt: skip
    from nst.calibration.int8 import quantize_int8

    done = [0]

    def on_feed() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], len(source))

    return quantize_int8(model, output, source, int8_options(options), force=force, on_feed=on_feed)


def _report(
    options: CalibrateOptions, result: ConversionResult, source: CalibrationSource,
    evaluation: ImageFolderSource,
) -> dict[str, Any]:  # fmt: skip
    """Build the other precision in a temp folder, measure all three, return the report."""
    from nst.calibration.report import ReportOptions, build_report

    if options.report is None:
        raise InputError("no --report folder given")
    with tempfile.TemporaryDirectory(prefix="nst-report-") as tmp:
        other = "fp16" if options.precision == "int8" else "int8"
        plain = CalibrateOptions(options.model, options.data, other, Path(tmp) / f"model.{other}.onnx")
        companion = convert(other, options.model, plain.output, source, plain, force=True)
        models = {"fp32": options.model, options.precision: result.path, other: companion.path}
        details = {options.precision: result.details, other: companion.details}
        extra = {"conversion": details, "companion": f"{other} built with default options, then discarded"}
        report_options = ReportOptions(options.latency_size, options.latency_runs)
        return build_report(models, evaluation, source, options.report, report_options, extra=extra,
                            force=options.force)  # fmt: skip
