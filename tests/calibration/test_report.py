"""The quality report: numbers from held-out images only, grid layout, JSON contents."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst.artifacts import sha256_file
from nst.calibration.fp16 import convert_fp16
from nst.calibration.int8 import Int8Options, quantize_int8
from nst.calibration.report import ReportOptions, build_report, check_disjoint
from nst.calibration.source import CalibrationMethod, ImageFolderSource
from nst.errors import CalibrationError, OutputExistsError

OPTIONS = ReportOptions(latency_size=32, latency_runs=1, grid_rows=2, grid_tile=24)
MINMAX = Int8Options(method=CalibrationMethod.MINMAX)  # fastest; the INT8 tests cover the default


@pytest.fixture(scope="module")
def models(tiny_onnx: Path, calib_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("report_models")
    source = ImageFolderSource(calib_dir, size=32, limit=3)
    return {
        "fp32": tiny_onnx,
        "fp16": convert_fp16(tiny_onnx, folder / "m.fp16.onnx").path,
        "int8": quantize_int8(tiny_onnx, folder / "m.int8.onnx", source, MINMAX).path,
    }


def test_report_measures_heldout_images(models, calib_dir: Path, heldout_dir: Path, tmp_path: Path) -> None:
    calibration, heldout = ImageFolderSource(calib_dir, size=32), ImageFolderSource(heldout_dir, size=32)
    report = build_report(models, heldout, calibration, tmp_path, OPTIONS)
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["meets_targets"] == report["meets_targets"]
    used = {Path(p).name for p in written["heldout_images"]}
    assert used == {p.name for p in heldout_dir.iterdir()}
    assert not {Path(p).resolve() for p in written["heldout_images"]} & set(calibration.files)
    per_image = written["quality_vs_fp32"]["int8"]["per_image"]
    assert [r["image"] for r in per_image] == [p.name for p in heldout.files]
    # The JSON figures are the PSNR of the INT8 output against FP32 on those very images.
    from nst.calibration.artifact import cpu_session, run
    from nst.calibration.metrics import psnr

    fp32, int8 = cpu_session(models["fp32"]), cpu_session(models["int8"])
    feed = next(iter(heldout))
    assert per_image[0]["psnr_db"] == pytest.approx(psnr(run(fp32, feed), run(int8, feed)))
    assert written["quality_vs_fp32"]["fp16"]["psnr_db_min"] > 40
    assert written["sha256"]["fp32"] == sha256_file(models["fp32"])
    assert set(written["latency_ort_cpu"]) >= {"fp32", "fp16", "int8", "int8_over_fp32"}
    assert written["size_bytes"]["int8"] < written["size_bytes"]["fp32"]
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape == (2 * 24, 4 * 24, 3)  # two rows of 24px centre crops: FP32 | FP16 | INT8 | diff x10
    fp32_crop = run(fp32, feed)[0, :, 4:28, 4:28].transpose(1, 2, 0)
    np.testing.assert_allclose(grid[:24, :24] / 255.0, fp32_crop, atol=0.5 / 255 + 1e-6)


def test_overlap_by_content_is_refused(calib_dir: Path, heldout_dir: Path, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    shutil.copytree(heldout_dir, mixed)
    shutil.copy(calib_dir / "photo03.png", mixed / "renamed_copy.png")  # same bytes, new name
    with pytest.raises(CalibrationError, match=r"1 held-out image\(s\) are also calibration images"):
        check_disjoint(ImageFolderSource(mixed), ImageFolderSource(calib_dir))


def test_overlap_stops_the_report(models, calib_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="also calibration images"):
        build_report(
            models, ImageFolderSource(calib_dir, size=32), ImageFolderSource(calib_dir), tmp_path, OPTIONS
        )
    assert not (tmp_path / "report.json").exists()


def test_existing_report_needs_force(models, calib_dir: Path, heldout_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text("{}")
    with pytest.raises(OutputExistsError, match="a report already exists"):
        build_report(models, ImageFolderSource(heldout_dir, size=32), None, tmp_path, OPTIONS)
