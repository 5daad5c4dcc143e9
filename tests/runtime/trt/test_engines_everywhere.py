"""An engine works wherever a model does: ``nst upscale``, ``nst synth``, ``nst stylize`` and
``nst info`` open ``.plan`` files through the registry (real TensorRT-RTX plans, executed by the
fake runtime, which runs the source model with ONNX Runtime: no GPU here)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from nst.cli.main import app
from tests.runtime import fake_trt
from tests.runtime.trt.families import FamilyModels
from tests.runtime.trt.test_families import build
from tests.runtime.trt.tiny import requires_rtx

pytestmark = requires_rtx
cli = CliRunner()


@pytest.fixture()
def engine_of(family_models: FamilyModels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``engine_of(family) -> (plan, onnx)``: a real plan the CLI can open without a GPU."""

    def make(family: str) -> tuple[Path, Path]:
        source, result = build(family_models, family, "fp32", tmp_path / f"{family}.plan")
        fake_trt.register(result.path)
        monkeypatch.setitem(sys.modules, "tensorrt_rtx", fake_trt.module("tensorrt_rtx"))
        monkeypatch.setattr("nst.runtime.trt.runner.make_binding", lambda *a, **k: fake_trt.FakeCuda())
        return result.path, source.path

    return make


def _invoke(*args: object) -> str:
    result = cli.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def _photo(path: Path, height: int, width: int) -> Path:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (height, width, 3), np.uint8)).save(path)
    return path


def test_upscale_takes_an_engine(engine_of, tmp_path: Path) -> None:
    plan, onnx = engine_of("sr")
    photo = _photo(tmp_path / "small.png", 20, 24)
    _invoke("upscale", plan, photo, "-o", tmp_path / "big_trt.png")
    _invoke("upscale", onnx, photo, "-o", tmp_path / "big_ort.png")
    trt, ort = (np.asarray(Image.open(tmp_path / f"big_{k}.png"), np.int16) for k in ("trt", "ort"))
    assert trt.shape == (80, 96, 3)
    assert np.abs(trt - ort).max() <= 1


def test_synth_takes_an_engine(engine_of, tmp_path: Path) -> None:
    plan, onnx = engine_of("texture")
    _invoke("synth", plan, "--size", "40x32", "--seed", "3", "-o", tmp_path / "trt.png")
    _invoke("synth", onnx, "--size", "40x32", "--seed", "3", "-o", tmp_path / "ort.png")
    trt, ort = (np.asarray(Image.open(tmp_path / f"{k}.png"), np.int16) for k in ("trt", "ort"))
    assert trt.shape == (32, 40, 3) and np.abs(trt - ort).max() <= 1


def test_stylize_and_info_take_an_engine(engine_of, tmp_path: Path) -> None:
    plan, _ = engine_of("cin")
    photo = _photo(tmp_path / "p.png", 33, 29)
    out = _invoke("stylize", plan, photo, "-o", tmp_path / "o.png", "--style", "1")
    assert "[TensorRT-RTX" in out and Image.open(tmp_path / "o.png").size == (29, 33)
    text = _invoke("info", plan)
    assert "family: cin" in text.replace("  ", " ") or "cin" in text
    assert "tensorrt_rtx" in text and "8.6" in text
