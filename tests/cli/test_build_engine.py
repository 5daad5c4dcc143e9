"""``nst build-engine`` building real TensorRT-RTX engines for named GPUs (no GPU needed)."""

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nst.cli import build_engine_cmd, info_cmd  # noqa: F401 (register commands; main.py imports all)
from nst.cli.app import app
from nst.runtime.trt.sidecar import read_sidecar
from tests.runtime.trt.tiny import conv_model, fp16_model, requires_rtx

cli = CliRunner()
SMALL = ["--min", "1x3x16x16", "--opt", "1x3x32x32", "--max", "2x3x64x64"]


def run(*args: str) -> tuple[int, str]:
    result = cli.invoke(app, ["build-engine", *args])
    return result.exit_code, result.output


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    return conv_model(tmp_path / "model.onnx")


@requires_rtx
def test_builds_engine_and_sidecar_for_named_gpus(model: Path, tmp_path: Path) -> None:
    plan = tmp_path / "model.plan"
    targets = ["--compute-capability", "86", "--compute-capability", "12.0"]
    code, text = run(str(model), "-o", str(plan), *targets, *SMALL)
    assert code == 0, text
    assert "  Building engine (" in text  # progress on stderr (mixed in by CliRunner)
    last = text.splitlines()[-1]
    assert last.startswith(f"built {plan} (") and " KB) in " in last
    assert (
        "TensorRT-RTX 1." in last and "for sm 8.6, 12.0, fp32, profiles [min 1x3x16x16, opt 1x3x32x32" in last
    )
    sidecar = read_sidecar(plan)
    assert sidecar.compute_capabilities == ("8.6", "12.0") and sidecar.library == "tensorrt_rtx"
    code, text = run(str(model), "-o", str(plan), "--compute-capability", "86")
    assert (code, text.strip()) == (1, f"error: {plan} already exists; use --force to overwrite")
    code, text = run(
        str(model), "-o", str(plan), "--compute-capability", "86", "--force", "--verbose", *SMALL
    )
    assert code == 0 and "tensorrt INFO: built engine with TensorRT-RTX" in text


@requires_rtx
def test_fp16_converts_an_fp32_model_first(model: Path, tmp_path: Path) -> None:
    plan = tmp_path / "model.plan"
    code, text = run(
        str(model), "-o", str(plan), "--fp16", "--trt", "rtx", "--compute-capability", "86", *SMALL
    )
    assert code == 0, text
    assert "converted model.onnx to FP16 for this build (nst.calibration.fp16, " in text
    assert "for sm 8.6, fp16, profiles" in text.splitlines()[-1]
    sidecar = read_sidecar(plan)
    assert (sidecar.precision, sidecar.source_precision, sidecar.onnx_path) == ("fp16", "fp32", str(model))
    assert sidecar.model_metadata["nst.precision"] == "fp16"
    assert sidecar.build_command.startswith(f"nst build-engine {model} -o {plan} --trt rtx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.plan", "model.plan.json"]
    info = json.loads(cli.invoke(app, ["info", str(plan), "--json"]).output)
    assert info["family"] == "johnson"


@requires_rtx
def test_an_fp16_model_needs_the_flag_and_builds_as_is(model: Path, tmp_path: Path) -> None:
    half = fp16_model(model, tmp_path / "model.fp16.onnx")
    code, text = run(str(half), "-o", str(tmp_path / "m.plan"), "--compute-capability", "86", *SMALL)
    assert (code, text.strip()) == (1, "error: model.fp16.onnx is an FP16 model; build it with --fp16")
    code, text = run(
        str(half), "-o", str(tmp_path / "m.plan"), "--compute-capability", "86", "--fp16", *SMALL
    )
    assert (
        code == 0 and "converted" not in text and read_sidecar(tmp_path / "m.plan").source_precision == "fp16"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--int8", "--compute-capability", "86"],
         "error: --int8 builds an INT8 ONNX model and model.onnx is FP32; make one first: nst calibrate "),
        (["--compute-capability", "90"],
         "error: compute capability '90' is not one TensorRT-RTX targets; valid: 75, 80, 86, 89, 120, 121"),
        (["--trt", "tensorrt", "--compute-capability", "86"],
         "error: --compute-capability needs TensorRT-RTX (--trt rtx): TensorRT 10/11 build for the GPU"),
        (["--fp16", "--int8"], "error: --fp16 and --int8 exclude each other"),
        (["--trt", "trt11"], "error: --trt must be one of ['auto', 'tensorrt', 'rtx'], got 'trt11'"),
        (["--min", "1x3x16", "--opt", "1x3x16x16", "--max", "1x3x16x16"], "error: shape '1x3x16' must be"),
        (["--min", "1x3x16x16", "--opt", "1x3x32x32"], "error: give --min, --opt and --max the same number"),
        (["--exclude-lean-runtime"], "error: --exclude-lean-runtime needs --version-compatible"),
    ],
)  # fmt: skip
def test_option_errors(model: Path, tmp_path: Path, args: list, message: str) -> None:
    code, text = run(str(model), "-o", str(tmp_path / "m.plan"), *args)
    assert code == 1 and text.startswith(message), text
    assert len(text.strip().splitlines()) == 1 and not (tmp_path / "m.plan").exists()


@requires_rtx
def test_no_gpu_and_no_target(model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nst.runtime.trt.targets.detect_gpu", lambda binding: None)
    code, text = run(str(model), "-o", str(tmp_path / "m.plan"), "--trt", "rtx")
    assert (code, text.strip()) == (
        1, "error: no CUDA GPU here to build for: name the target GPUs with --compute-capability "
        "(valid: 75, 80, 86, 89, 120, 121)")  # fmt: skip


def test_unknown_cuda_binding(model: Path, tmp_path: Path) -> None:
    code, text = run(str(model), "-o", str(tmp_path / "m.plan"), "--trt", "rtx", "--cuda-binding", "pycud")
    if "not installed" in text:
        pytest.skip("tensorrt_rtx is not installed")
    expected = (
        "error: unknown CUDA binding 'pycud' (choose from ['cuda-python', 'pycuda']); did you mean 'pycuda'?"
    )
    assert (code, text.strip()) == (1, expected)


def test_missing_tensorrt_names_the_extras(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("tensorrt", "tensorrt_rtx"):
        monkeypatch.setitem(sys.modules, name, None)
    code, text = run(str(model), "-o", str(tmp_path / "m.plan"), "--compute-capability", "86")
    assert code == 1 and text.startswith("error: nst build-engine needs TensorRT: pip install 'nst[trt]'")
    code, text = run(str(model), "-o", str(tmp_path / "m.plan"), "--trt", "rtx", "--compute-capability", "86")
    assert (code, text.strip()) == (
        1, "error: tensorrt_rtx is not installed; install it with: pip install 'nst[trt-rtx]'")  # fmt: skip
