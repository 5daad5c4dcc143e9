"""Quality report of reduced-precision models against FP32, on held-out images.

PSNR/SSIM per image and precision, model sizes, ORT CPU latency at one size, an image grid
(FP32 | FP16 | INT8 | |FP32 - INT8| x 10) and a JSON file with every figure. The held-out
images must not be calibration images: overlap is checked by file content (sha256), so a
renamed copy is caught too.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nst.artifacts import sha256_file
from nst.calibration.artifact import cpu_session, load_model, run
from nst.calibration.feeds import model_feeds
from nst.calibration.metrics import psnr, ssim
from nst.calibration.source import ImageFolderSource
from nst.errors import CalibrationError, InputError, OutputExistsError

#: Issue 6's targets, checked (not assumed) in every report.
TARGETS = {"fp16_min_psnr_db": 40.0, "int8_min_psnr_db": 30.0, "int8_max_latency_ratio": 0.6}
DIFF_GAIN = 10.0  # the diff column shows |FP32 - INT8| x 10, so 1/255 errors are visible
REPORT_JSON, REPORT_GRID = "report.json", "grid.png"


@dataclass(frozen=True)
class ReportOptions:
    """Knobs of :func:`build_report`.

    Attributes:
        latency_size: Square side of the latency input (512 in the issue).
        latency_runs: Timed runs per model (interleaved, after 2 warm-up runs).
        threads: ORT intra-op threads (0: ORT's default, one per core).
        grid_rows: Held-out images shown in the grid.
        grid_tile: Side of the centre crop of each output shown in the grid (pixels at 1:1,
            so quantization noise stays visible; keeps the PNG small).
    """

    latency_size: int = 512
    latency_runs: int = 10
    threads: int = 0
    grid_rows: int = 3
    grid_tile: int = 256

    def __post_init__(self) -> None:
        if (
            self.latency_size < 16
            or self.latency_runs < 1
            or self.grid_rows < 1
            or self.threads < 0
            or self.grid_tile < 1
        ):
            raise InputError(f"invalid report options {self}")


def check_report_dir(out_dir: Path, force: bool) -> tuple[Path, Path]:
    """The report's JSON and grid paths; refuse to overwrite them unless ``force``.

    Raises:
        OutputExistsError: Either file exists and ``force`` is false.
    """
    json_path, grid_path = out_dir / REPORT_JSON, out_dir / REPORT_GRID
    if not force and (json_path.exists() or grid_path.exists()):
        raise OutputExistsError(f"a report already exists in {out_dir}; use --force to overwrite")
    return json_path, grid_path


def check_disjoint(evaluation: ImageFolderSource, calibration: ImageFolderSource) -> None:
    """Refuse held-out images that are also calibration images (same bytes, any name).

    Raises:
        CalibrationError: Naming the first overlapping pair.
    """
    calib = calibration.digests()
    shared = [(p, calib[d]) for d, p in evaluation.digests().items() if d in calib]
    if shared:
        held, cal = shared[0]
        raise CalibrationError(
            f"{len(shared)} held-out image(s) are also calibration images (e.g. {held} = {cal}); "
            "evaluate on images the calibration never saw"
        )


def _outputs(
    models: Mapping[str, Path], evaluation: ImageFolderSource, threads: int
) -> dict[str, list[np.ndarray]]:
    """precision -> the (1, 3, H, W) output of each held-out image (inputs beside the image
    made as for calibration, :mod:`nst.calibration.feeds`)."""
    feeds = list(model_feeds(evaluation, load_model(models["fp32"])))
    outputs: dict[str, list[np.ndarray]] = {}
    for precision, path in models.items():
        session = cpu_session(path, threads)
        outputs[precision] = [run(session, feed) for feed in feeds]
    return outputs


def _quality(outputs: dict[str, list[np.ndarray]], files: list[Path]) -> dict[str, Any]:
    quality: dict[str, Any] = {}
    for precision, outs in outputs.items():
        if precision == "fp32":
            continue
        per_image = [
            {"image": f.name, "psnr_db": psnr(ref, out), "ssim": ssim(ref, out)}
            for f, ref, out in zip(files, outputs["fp32"], outs, strict=True)
        ]  # fmt: skip
        quality[precision] = {
            "psnr_db_mean": float(np.mean([r["psnr_db"] for r in per_image])),
            "psnr_db_min": float(min(r["psnr_db"] for r in per_image)),
            "ssim_mean": float(np.mean([r["ssim"] for r in per_image])),
            "ssim_min": float(min(r["ssim"] for r in per_image)),
            "per_image": per_image,
        }
    return quality


def measure_latency(models: Mapping[str, Path], size: int, runs: int, threads: int = 0) -> dict[str, Any]:
    """ORT CPU latency (ms) of each model on one (1, 3, size, size) input.

    Runs are interleaved (fp32, fp16, int8, fp32, ...) so a noisy, shared machine slows every
    model alike; the median is reported, with min and max. Inputs beside the image come from
    the first model's spec (:mod:`nst.calibration.feeds`).
    """
    image = {"image": np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)}
    feed = next(iter(model_feeds([image], load_model(next(iter(models.values()))))))
    sessions = {p: cpu_session(path, threads) for p, path in models.items()}
    for session in sessions.values():
        for _ in range(2):
            run(session, feed)
    times: dict[str, list[float]] = {p: [] for p in sessions}
    for _ in range(runs):
        for precision, session in sessions.items():
            start = time.perf_counter()
            session.run(None, feed)
            times[precision].append((time.perf_counter() - start) * 1e3)
    return {
        p: {"median_ms": statistics.median(t), "min_ms": min(t), "max_ms": max(t), "runs": len(t)}
        for p, t in times.items()
    }


def _centre(image: np.ndarray, tile: int) -> np.ndarray:
    """(1, 3, H, W) -> centre (min(H, tile), min(W, tile), 3) crop."""
    h, w = image.shape[2:]
    top, left = max(0, (h - tile) // 2), max(0, (w - tile) // 2)
    return image[0, :, top : top + tile, left : left + tile].transpose(1, 2, 0)


def _grid(outputs: dict[str, list[np.ndarray]], rows: int, tile: int) -> np.ndarray:
    """(rows*T, 4*T, 3) image: FP32 | FP16 | INT8 | |FP32 - INT8| x 10 (absent columns grey)."""
    lines = []
    for i in range(min(rows, len(outputs["fp32"]))):
        ref = _centre(outputs["fp32"][i], tile)  # (T, T, 3)
        grey = np.full_like(ref, 0.5)
        cols = [ref] + [_centre(outputs[p][i], tile) if p in outputs else grey for p in ("fp16", "int8")]
        diff = np.abs(ref - cols[2]) * DIFF_GAIN if "int8" in outputs else grey
        lines.append(np.concatenate([*cols, diff], axis=1))
    return np.clip(np.concatenate(lines, axis=0), 0.0, 1.0)


def _verdicts(quality: dict[str, Any], latency: dict[str, Any]) -> dict[str, bool | None]:
    fp16, int8 = quality.get("fp16"), quality.get("int8")
    ratio = latency["int8"]["median_ms"] / latency["fp32"]["median_ms"] if "int8" in latency else None
    return {
        "fp16_psnr": None if fp16 is None else fp16["psnr_db_min"] >= TARGETS["fp16_min_psnr_db"],
        "int8_psnr": None if int8 is None else int8["psnr_db_min"] >= TARGETS["int8_min_psnr_db"],
        "int8_latency": None if ratio is None else ratio <= TARGETS["int8_max_latency_ratio"],
    }


def build_report(
    models: Mapping[str, Path], evaluation: ImageFolderSource, calibration: ImageFolderSource | None,
    out_dir: Path, options: ReportOptions | None = None, *, extra: dict[str, Any] | None = None,
    force: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Measure ``models`` (``fp32`` required; ``fp16``/``int8`` optional) and write the report.

    Args:
        models: precision -> ONNX path.
        evaluation: Held-out images (the grid shows the first ``grid_rows``).
        calibration: The calibration images, checked disjoint from ``evaluation``.
        out_dir: Gets ``report.json`` and ``grid.png``.
        options: Latency size, runs, threads, grid rows.
        extra: More facts for the JSON (conversion details, the command line).
        force: Overwrite an existing report.

    Returns:
        The report as written to JSON.

    Raises:
        CalibrationError: Held-out and calibration images overlap.
        OutputExistsError: The report exists and ``force`` is false.
        InputError: No ``fp32`` model.
    """
    from nst.io import write_image

    opts = options or ReportOptions()
    if "fp32" not in models:
        raise InputError("the report needs the FP32 model as reference")
    json_path, grid_path = check_report_dir(out_dir, force)
    if calibration is not None:
        check_disjoint(evaluation, calibration)
    outputs = _outputs(models, evaluation, opts.threads)
    quality = _quality(outputs, evaluation.files)
    latency = measure_latency(models, opts.latency_size, opts.latency_runs, opts.threads)
    sizes = {p: Path(m).stat().st_size for p, m in models.items()}
    report: dict[str, Any] = {
        "models": {p: str(m) for p, m in models.items()}, "size_bytes": sizes,
        "sha256": {p: sha256_file(Path(m)) for p, m in models.items()},
        "quality_vs_fp32": quality,
        "latency_ort_cpu": {"size": [opts.latency_size, opts.latency_size], "batch": 1, **latency},
        "targets": TARGETS, "meets_targets": _verdicts(quality, latency),
        "heldout_images": [str(p) for p in evaluation.files], "eval_size": evaluation.size,
        "calibration_images": [str(p) for p in calibration.files] if calibration is not None else None,
        "machine": _machine(opts.threads), **(extra or {}),
    }  # fmt: skip
    if "int8" in latency:
        report["latency_ort_cpu"]["int8_over_fp32"] = (
            latency["int8"]["median_ms"] / latency["fp32"]["median_ms"]
        )
    write_image(grid_path, _grid(outputs, opts.grid_rows, opts.grid_tile), force=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(_jsonable(report), indent=2, allow_nan=False) + "\n")
    return report


def _jsonable(value: Any) -> Any:
    """Strict JSON: infinite PSNR (identical outputs) becomes the string "inf"."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else str(float(value))
    return value


def _machine(threads: int) -> dict[str, Any]:
    import onnxruntime as ort

    from nst.measure import machine_description

    return machine_description(versions={"onnxruntime": ort.__version__}, threads=threads)
