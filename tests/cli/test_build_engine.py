import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nst.cli import build_engine_cmd, info_cmd  # noqa: F401 (register commands; main.py imports all)
from nst.cli.app import app
from tests.runtime import fake_trt
from tests.runtime.onnx_models import tiny_model

cli = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = cli.invoke(app, ["build-engine", *args])
    return result.exit_code, result.output


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    return tiny_model(tmp_path / "model.onnx")


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt.module())
    monkeypatch.setattr("nst.runtime.trt.build.make_backend", lambda name: fake_trt.FakeCuda())


def test_builds_engine_and_sidecar(fake: None, model: Path, tmp_path: Path) -> None:
    plan = tmp_path / "model.plan"
    code, text = run(str(model), "-o", str(plan), "--fp16", "--min", "1x3x16x16", "--opt", "1x3x256x256",
                     "--max", "2x3x512x512", "--timing-cache", str(tmp_path / "t.cache"))  # fmt: skip
    assert code == 0, text
    assert "  Building engine (3 steps)" in text  # progress on stderr (mixed in by CliRunner)
    assert text.splitlines()[-1].startswith(f"built {plan} (")
    assert (
        "TensorRT 10.3.0.26 on NVIDIA H100 80GB HBM3 (sm 9.0), fp32+fp16, profiles [min 1x3x16x16, " in text
    )
    assert plan.is_file() and (tmp_path / "model.plan.json").is_file() and (tmp_path / "t.cache").is_file()
    code, text = run(str(model), "-o", str(plan))
    assert (code, text.strip()) == (1, f"error: {plan} already exists; use --force to overwrite")
    code, text = run(
        str(model), "-o", str(plan), "--force", "--verbose", "--timing-cache", str(tmp_path / "t.cache")
    )
    assert code == 0, text
    assert (
        "tensorrt INFO: timing cache" in text
        and "bytes reused" in text
        and "tensorrt INFO: built engine" in text
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--int8"], "error: --int8 needs a QDQ model (from nst calibrate) or --calib-data DIR"),
        (
            ["--min", "1x3x16", "--opt", "1x3x16x16", "--max", "1x3x16x16"],
            "error: shape '1x3x16' must be NxCxHxW",
        ),
        (["--min", "1x3x16x16", "--opt", "1x3x32x32"], "error: give --min, --opt and --max the same number"),
        (["--exclude-lean-runtime"], "error: --exclude-lean-runtime needs --version-compatible"),
    ],
)
def test_option_errors(fake: None, model: Path, tmp_path: Path, args: list, message: str) -> None:
    code, text = run(str(model), "-o", str(tmp_path / "m.plan"), *args)
    assert code == 1 and message in text
    assert not (tmp_path / "m.plan").exists()


def test_unknown_cuda_backend(model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt.module())
    code, text = run(str(model), "-o", str(tmp_path / "m.plan"), "--cuda-backend", "pycud")
    expected = (
        "error: unknown CUDA backend 'pycud' (choose from ['cuda-python', 'pycuda']); did you mean 'pycuda'?"
    )
    assert (code, text.strip()) == (1, expected)


def test_missing_tensorrt_names_the_extra(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    code, text = run(str(model), "-o", str(tmp_path / "m.plan"), "--fp16")
    assert (code, text.strip()) == (
        1,
        "error: tensorrt is not installed; install it with: pip install 'nst[trt]'",
    )
