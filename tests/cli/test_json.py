"""``--json`` on ``nst info``, ``nst bench`` and ``nst eval``: one JSON object on stdout."""

import json
from pathlib import Path

from typer.testing import CliRunner

from nst.cli.main import app

cli = CliRunner()


def stdout_of(*args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_info_json_is_one_object() -> None:
    data = json.loads(stdout_of("info", "--json"))
    assert data["model"].endswith("default_model.onnx") and data["inputs"]


def test_bench_json_has_the_cases_and_paths(tmp_path: Path) -> None:
    args = ["bench", "--size", "32x32", "--target", "ort-cpu", "--min-runs", "1", "--min-seconds", "0",
            "--out-dir", str(tmp_path)]  # fmt: skip
    data = json.loads(stdout_of(*args, "--json"))
    assert data["json"] == str(tmp_path / "cpu.json") and data["markdown"] == str(tmp_path / "cpu.md")
    (case,) = data["cases"]
    assert case["target"] == "ort-cpu" and case["size"] == "32x32" and case["runs"] >= 1
    assert data["speedups"] == {}
    assert json.loads((tmp_path / "cpu.json").read_text())["cases"] == data["cases"]
    text = stdout_of(*args, "--force")
    assert text.startswith("benchmarked 1 cases -> ") and text.count("\n") == 1


def test_eval_json_is_the_summary(
    tiny_onnx: Path, content_dir: Path, style_image: Path, vgg_weights: Path, tmp_path: Path
) -> None:
    out = tmp_path / "quality"
    data = json.loads(stdout_of(
        "eval", str(tiny_onnx), "--content", str(content_dir), "--style", str(style_image), "--size", "32",
        "--iters", "1,2", "--limit", "1", "-o", str(out), "--vgg-weights", str(vgg_weights), "--no-progress",
        "--json",
    ))  # fmt: skip
    assert data["output"] == str(out) and data["images"] == 1
    assert set(data["means"]) == {"model", "gatys-1", "gatys-2"}
    assert data["means"]["model"]["total"] > 0 and "target" not in data
