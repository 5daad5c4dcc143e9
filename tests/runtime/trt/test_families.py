"""Every family x FP32 / FP16 / INT8 builds a real TensorRT-RTX engine for SM86 (no GPU), with
the precision of its ONNX, its I/O dtypes and the profiles of every input; the runner runs
the multi-input and super-resolution engines through the fake runtime (shapes and dtypes as
the real model computes them)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from nst.contract.profiles import input_shapes
from nst.errors import InputError
from nst.runtime.trt.build import build_engine
from nst.runtime.trt.config import EngineConfig, read_model
from nst.runtime.trt.runner import TrtRunner
from tests.runtime import fake_trt
from tests.runtime.trt.families import FAMILIES, PRECISIONS, FamilyModels, small_profile
from tests.runtime.trt.tiny import SM86, requires_rtx

pytestmark = [requires_rtx, pytest.mark.slow]


def build(models: FamilyModels, family: str, precision: str, out: Path):
    model = models.get(family, precision)
    source = read_model(model)
    config = EngineConfig(fp16=precision == "fp16", int8=precision == "int8", compute_capabilities=SM86,
                          profiles=(small_profile(source.metadata.spec),))  # fmt: skip
    return source, build_engine(model, out, config)


CELLS = [pytest.param(f, p, id=f"{f}-{p}") for f in FAMILIES for p in PRECISIONS]


@pytest.mark.parametrize(("family", "precision"), CELLS)
def test_every_family_builds_in_every_precision(
    family_models: FamilyModels, family: str, precision: str, tmp_path: Path
) -> None:
    source, result = build(family_models, family, precision, tmp_path / f"{family}.{precision}.plan")
    spec, sidecar = source.metadata.spec, result.sidecar
    assert result.size_bytes > 100_000 and result.path.stat().st_size == result.size_bytes
    assert (sidecar.precision, sidecar.compute_capabilities) == (precision, ("8.6",))
    assert list(sidecar.io_dtypes) == [t.name for t in (*spec.inputs, *spec.outputs)]
    assert set(sidecar.io_dtypes.values()) == {"float32"}  # nst keeps float32 I/O by default
    assert sidecar.profiles == (small_profile(spec),) and sidecar.model_metadata["nst.family"] == family
    if precision != "fp32":
        assert sidecar.model_metadata["nst.precision"] == precision


@pytest.fixture()
def fake_runtime(monkeypatch: pytest.MonkeyPatch):
    def install() -> None:
        monkeypatch.setitem(sys.modules, "tensorrt_rtx", fake_trt.module("tensorrt_rtx"))

    return install


def test_sr_engine_output_is_scale_times_its_input(
    family_models: FamilyModels, tmp_path: Path, fake_runtime
) -> None:
    import onnxruntime as ort

    source, result = build(family_models, "sr", "fp32", tmp_path / "sr.plan")
    fake_trt.register(result.path)
    fake_runtime()
    x = np.random.default_rng(0).random((1, 3, 20, 24), dtype=np.float32)
    with TrtRunner(result.path, cuda_binding=fake_trt.FakeCuda()) as runner:
        out = runner.infer({"image": x})["upscaled"]
    assert out.shape == (1, 3, 80, 96)
    expected = ort.InferenceSession(str(source.path), providers=["CPUExecutionProvider"]).run(
        None, {"image": x}
    )
    np.testing.assert_allclose(out, expected[0], atol=1e-5)


def test_every_input_is_checked_against_the_engines_profiles(
    family_models: FamilyModels, tmp_path: Path, fake_runtime
) -> None:
    from nst.runtime.style_inputs import materialise, noise_feeds

    source, result = build(family_models, "texture_style", "fp32", tmp_path / "ts.plan")
    spec = source.metadata.spec
    fake_trt.register(result.path)
    fake_runtime()
    with TrtRunner(result.path, cuda_binding=fake_trt.FakeCuda()) as runner:
        shapes = input_shapes(spec, small_profile(spec))
        assert {n: (p.min, p.opt, p.max) for n, p in runner.input_profiles[0].items()} == shapes
        x = np.random.default_rng(0).random((1, 3, 40, 36), dtype=np.float32)
        feed = {"image": x, **materialise(spec.inputs[1:], noise_feeds(spec.inputs[1:], 0), 1, 40, 36)}
        assert runner.infer(feed)["stylized"].shape == (1, 3, 40, 36)
        feed["noise_2"] = np.zeros((1, 3, 30, 9), np.float32)  # 30 > ceil(64 / 4): no profile holds it
        with pytest.raises(
            InputError,
            match=r"^noise_2 shape 1x3x30x9 is outside every profile of ts\.plan "
            r"\[min 1x3x2x2, opt 1x3x8x8, max 2x3x16x16\]",
        ):
            runner.infer(feed)  # fmt: skip
