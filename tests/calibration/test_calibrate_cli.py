"""``nst calibrate`` end to end on the tiny model, and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
from typer.testing import CliRunner

from nst.cli.main import app

cli = CliRunner()
SMALL = ["--size", "32", "--eval-size", "32", "--latency-size", "32", "--latency-runs", "1"]


def run(*args: str | Path) -> tuple[int, str]:
    result = cli.invoke(app, ["calibrate", *map(str, args)])
    return result.exit_code, result.output


def test_int8_with_report(tiny_onnx: Path, calib_dir: Path, heldout_dir: Path, tmp_path: Path) -> None:
    out, report = tmp_path / "m.int8.onnx", tmp_path / "report"
    code, text = run(tiny_onnx, "--data", calib_dir, "--precision", "int8", "-o", out, "--method", "minmax",
                     "--report", report, "--eval-data", heldout_dir, *SMALL)  # fmt: skip
    assert code == 0, text
    assert f"wrote {out}" in text and "nodes INT8" in text and "INT8/FP32 CPU latency" in text
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert props["nst.precision"] == "int8" and json.loads(props["nst.calibration"])["method"] == "minmax"
    data = json.loads((report / "report.json").read_text())
    assert data["conversion"]["int8"]["method"] == "minmax" and "fp16" in data["quality_vs_fp32"]
    assert (report / "grid.png").is_file()
    code, text = run(tiny_onnx, "--data", calib_dir, "--precision", "int8", "-o", out, "--size", "32")
    assert code == 1 and "already exists; use --force" in text  # never overwritten without --force


def test_fp16(tiny_onnx: Path, calib_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.fp16.onnx"
    code, text = run(tiny_onnx, "--data", calib_dir, "--precision", "fp16", "-o", out, "--size", "32")
    assert code == 0, text
    assert "fp16" in text and out.is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--precision", "fp16", "--method", "entropy"], "--method only apply to --precision int8"),
        (["--precision", "int8", "--fp16-io"], "--fp16-io only applies to --precision fp16"),
        (["--precision", "int4"], "--precision must be int8 or fp16"),
        (["--precision", "int8", "--method", "kl"], "unknown calibration method 'kl'"),
        (["--precision", "int8", "--report", "rep"], "--report and --eval-data go together"),
    ],
)
def test_refusals(tiny_onnx: Path, calib_dir: Path, tmp_path: Path, extra: list[str], message: str) -> None:
    code, text = run(tiny_onnx, "--data", calib_dir, "-o", tmp_path / "x.onnx", *extra)
    assert code == 1 and message in text
    assert not (tmp_path / "x.onnx").exists()


def test_overlapping_eval_data_is_refused_before_calibrating(
    tiny_onnx: Path, calib_dir: Path, tmp_path: Path
) -> None:
    code, text = run(tiny_onnx, "--data", calib_dir, "--precision", "int8", "-o", tmp_path / "m.onnx",
                     "--report", tmp_path / "rep", "--eval-data", calib_dir, *SMALL)  # fmt: skip
    assert code == 1 and "also calibration images" in text
    assert not (tmp_path / "m.onnx").exists()
