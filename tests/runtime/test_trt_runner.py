"""TrtRunner on engines really built with TensorRT-RTX (SM86), loaded and run by the fake runtime
(tests/runtime/fake_trt.py: no GPU here), compared with ONNX Runtime on the same model."""

import json
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from nst.contract.profiles import Profile
from nst.errors import EngineCompatError, InputError, MissingDependencyError, ModelError
from nst.runtime.trt.build import build_engine
from nst.runtime.trt.config import EngineConfig
from nst.runtime.trt.cuda import GpuInfo, make_binding
from nst.runtime.trt.runner import TrtRunner
from nst.runtime.trt.sidecar import Sidecar, sidecar_path
from tests.runtime import fake_trt
from tests.runtime.trt.tiny import SM86, conv_model, fp16_model, requires_rtx

pytestmark = requires_rtx
SMALL = Profile((1, 3, 16, 16), (1, 3, 32, 32), (2, 3, 64, 64))
BATCHED = Profile((4, 3, 16, 16), (8, 3, 32, 32), (8, 3, 32, 32))


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    return conv_model(tmp_path / "model.onnx")


@pytest.fixture()
def trt(monkeypatch: pytest.MonkeyPatch):
    """The fake runtime in place of tensorrt_rtx (install it only after the real build)."""
    mod = fake_trt.module("tensorrt_rtx")
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", mod)
    return mod


@pytest.fixture()
def plan(model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "model.plan"
    build_engine(model, out, EngineConfig(compute_capabilities=SM86, profiles=(SMALL, BATCHED)))
    fake_trt.register(out)
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", fake_trt.module("tensorrt_rtx"))
    return out


def image(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 3, h, w), dtype=np.float32)


def reference(model: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    return ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]


def test_runs_with_shapes_set_per_call_and_profiles_switched(plan: Path, model: Path) -> None:
    binding = fake_trt.FakeCuda()
    with TrtRunner(plan, cuda_binding=binding) as runner:
        assert runner.profiles == (SMALL, BATCHED) and runner.label.startswith("TensorRT-RTX 1.")
        x = image(1, 20, 30)
        np.testing.assert_allclose(runner.infer({"image": x})["stylized"], reference(model, x), atol=1e-6)
        y = image(8, 24, 24, seed=1)
        out = runner.infer({"image": y})["stylized"]
        assert out.shape == (8, 3, 24, 24) and out.dtype == np.float32
        np.testing.assert_allclose(out, reference(model, y), atol=1e-6)
    assert fake_trt.calls("set_input_shape") == [("set_input_shape", "image", (1, 3, 20, 30)),
                                                 ("set_input_shape", "image", (8, 3, 24, 24))]  # fmt: skip
    assert fake_trt.calls("set_optimization_profile_async") == [("set_optimization_profile_async", 1)]
    assert binding.live == set() and len(fake_trt.calls("stream_destroy")) == 1
    runner.close()  # idempotent
    with pytest.raises(ModelError, match="is closed"):
        runner.infer({"image": x})


def test_shape_outside_every_profile_names_them(plan: Path) -> None:
    with TrtRunner(plan, cuda_binding=fake_trt.FakeCuda()) as runner, pytest.raises(
        InputError, match=r"image shape 1x3x16x100 is outside every profile of model\.plan "
        r"\[min 1x3x16x16, opt 1x3x32x32, max 2x3x64x64 \| min 4x3x16x16"
    ):  # fmt: skip
        runner.infer({"image": image(1, 16, 100)})
    assert fake_trt.calls("set_input_shape") == []  # refused before TensorRT sees it
    with (
        TrtRunner(plan, cuda_binding=fake_trt.FakeCuda()) as runner,
        pytest.raises(InputError, match="too small"),
    ):
        runner.infer({"image": image(1, 8, 8)})  # the Runner's own checks still come first


def test_fp16_io_engine_takes_and_returns_float32(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    half = fp16_model(model, tmp_path / "model.fp16.onnx", fp16_io=True)
    plan = tmp_path / "half.plan"
    build_engine(half, plan, EngineConfig(fp16=True, compute_capabilities=SM86, profiles=(SMALL,)))
    fake_trt.register(plan)
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", fake_trt.module("tensorrt_rtx"))
    x = image(2, 24, 40)
    with TrtRunner(plan, cuda_binding=fake_trt.FakeCuda()) as runner:
        assert runner._io["image"][1] == np.float16 and runner.precision == "fp16"
        out = runner.infer({"image": x})["stylized"]
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(out, reference(model, x), atol=2e-3)


def test_cuda_graph_captured_on_second_call_then_replayed(plan: Path, model: Path) -> None:
    with TrtRunner(plan, cuda_binding=fake_trt.FakeCuda(), cuda_graph=True) as runner:
        for seed in range(4):
            x = image(1, 32, 32, seed)
            np.testing.assert_allclose(runner.infer({"image": x})["stylized"], reference(model, x), atol=1e-6)
        kinds = [c[0] for c in fake_trt.CALLS if c[0] in ("execute_async_v3", "graph_begin", "graph_launch")]
        assert kinds == ["execute_async_v3", "graph_begin", "graph_launch", "graph_launch", "graph_launch"]
        x = image(2, 64, 64)  # larger: buffers grow, the old graph's addresses are stale
        np.testing.assert_allclose(runner.infer({"image": x})["stylized"], reference(model, x), atol=1e-6)
        assert len(fake_trt.calls("graph_destroy")) == 1
        assert fake_trt.CALLS[-1] == ("execute_async_v3",)


def test_streams_serve_concurrent_callers(plan: Path, model: Path) -> None:
    results: dict[int, bool] = {}

    def work(runner: TrtRunner, i: int) -> None:
        x = image(1, 16 + i, 16, seed=i)
        results[i] = bool(np.allclose(runner.infer({"image": x})["stylized"], reference(model, x), atol=1e-6))

    with TrtRunner(plan, cuda_binding=fake_trt.FakeCuda(), streams=2) as runner:
        threads = [threading.Thread(target=work, args=(runner, i)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == dict.fromkeys(range(6), True)
    assert len(fake_trt.calls("stream_destroy")) == 2


def test_other_compute_capability_is_refused_before_deserialising(plan: Path) -> None:
    with pytest.raises(
        EngineCompatError,
        match=r"compute capability 8\.9 here, engine built for 8\.6; rebuild it with: nst build-engine .*"
        r"--trt rtx --compute-capability 86 .*--force",
    ):
        TrtRunner(plan, cuda_binding=fake_trt.FakeCuda(GpuInfo("NVIDIA GeForce RTX 4090", "8.9")))
    assert fake_trt.calls("deserialize_cuda_engine") == []
    with TrtRunner(plan, cuda_binding=fake_trt.FakeCuda(GpuInfo("NVIDIA GeForce RTX 3090", "8.6"))):
        pass  # an RTX engine is for a compute capability, not one card


def test_other_rtx_release_is_refused(plan: Path, trt) -> None:
    trt.__version__ = "1.8.0.1"
    with pytest.raises(
        EngineCompatError, match=r"load only on the release that built them\) vs 1\.8\.0\.1 here"
    ):
        TrtRunner(plan, cuda_binding=fake_trt.FakeCuda())


def test_version_compatible_tensorrt_engine_allows_host_code(
    plan: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TensorRT (not RTX) engine: the runner loads it with the tensorrt module the sidecar names."""
    path = sidecar_path(plan)
    sidecar = Sidecar.from_json(path.read_text())
    path.write_text(replace(sidecar, library="tensorrt", library_version="10.3.0.26", version_compatible=True,
                            gpu_name=fake_trt.A6000.name).to_json())  # fmt: skip
    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt.module("tensorrt", "10.7.0.23"))
    with TrtRunner(plan, cuda_binding=fake_trt.FakeCuda()):
        pass
    assert fake_trt.calls("deserialize_cuda_engine") == [("deserialize_cuda_engine", True)]


def test_engine_profiles_must_match_sidecar(plan: Path) -> None:
    fake_trt.register(plan, profiles=(SMALL,))  # the engine file holds one profile, the sidecar two
    with pytest.raises(EngineCompatError, match=r"profiles \[.*\] \(sidecar\) vs \[.*\] \(engine file\)"):
        TrtRunner(plan, cuda_binding=fake_trt.FakeCuda())


def test_broken_or_missing_files(plan: Path, tmp_path: Path) -> None:
    plan.write_bytes(b"garbage")
    with pytest.raises(
        EngineCompatError, match=r"TensorRT-RTX .* cannot load .*magicTagRead.*rebuild it with"
    ):
        TrtRunner(plan, cuda_binding=fake_trt.FakeCuda())
    sidecar_path(plan).unlink()
    with pytest.raises(ModelError, match=r"model\.plan\.json not found"):
        TrtRunner(plan, cuda_binding=fake_trt.FakeCuda())
    with pytest.raises(ModelError, match="engine file not found"):
        TrtRunner(tmp_path / "none.plan", cuda_binding=fake_trt.FakeCuda())


def test_option_validation(plan: Path) -> None:
    with pytest.raises(InputError, match="streams must be >= 1"):
        TrtRunner(plan, streams=0)
    with pytest.raises(InputError, match=r"needs the cuda-python binding \(--cuda-binding cuda-python\)"):
        TrtRunner(plan, cuda_binding="pycuda", cuda_graph=True)
    with pytest.raises(InputError, match="did you mean 'pycuda'"):
        make_binding("pycud")
    with pytest.raises(InputError, match="device must be >= 0"):
        make_binding("cuda-python", device=-1)


def test_missing_libraries_name_their_extra(plan: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("cuda", "cuda.bindings", "pycuda", "pycuda.driver"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingDependencyError, match=r"cuda-python is not installed.*nst\[gpu\]"):
        TrtRunner(plan)
    with pytest.raises(MissingDependencyError, match=r"pycuda is not installed.*nst\[trt\]"):
        TrtRunner(plan, cuda_binding="pycuda")
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", None)
    with pytest.raises(MissingDependencyError, match=r"tensorrt_rtx is not installed.*nst\[trt-rtx\]"):
        TrtRunner(plan, cuda_binding=fake_trt.FakeCuda())


class CountingCuda(fake_trt.FakeCuda):
    def __init__(self) -> None:
        super().__init__()
        self.counts = {"copy": 0, "sync": 0}

    def copy_htod(self, dst: int, src: np.ndarray, stream: int) -> None:
        self.counts["copy"] += 1
        super().copy_htod(dst, src, stream)

    def copy_dtoh(self, dst: np.ndarray, src: int, stream: int) -> None:
        self.counts["copy"] += 1
        super().copy_dtoh(dst, src, stream)

    def synchronize(self, stream: int) -> None:
        self.counts["sync"] += 1


def test_device_loop_reruns_on_staged_buffers_without_copies(plan: Path) -> None:
    binding = CountingCuda()
    with TrtRunner(plan, cuda_binding=binding, cuda_graph=True) as runner:
        run = runner.device_loop({"image": image(1, 32, 32)})
        fake_trt.CALLS.clear()
        binding.counts = {"copy": 0, "sync": 0}
        for _ in range(3):
            run()
        kinds = [c[0] for c in fake_trt.CALLS]
        assert kinds == ["graph_begin", "graph_launch", "graph_launch", "graph_launch"]
        assert binding.counts == {"copy": 0, "sync": 3}
    with (
        TrtRunner(plan, cuda_binding=fake_trt.FakeCuda(), streams=2) as runner,
        pytest.raises(InputError, match="device_loop needs streams=1, this runner has 2"),
    ):
        runner.device_loop({"image": image(1, 32, 32)})


def test_info_reads_an_engine_from_its_sidecar(plan: Path) -> None:
    from typer.testing import CliRunner

    from nst.cli.main import app

    result = CliRunner().invoke(app, ["info", str(plan), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["family"] == "johnson" and data["inputs"][0]["name"] == "image"
    assert data["engine"]["profiles"][0] == "min 1x3x16x16, opt 1x3x32x32, max 2x3x64x64"


def test_stylize_opens_engines_with_the_trt_runner(
    plan: Path, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nst.runtime.registry import open_runner
    from nst.runtime.stylizer import Stylizer
    from nst.runtime.trt import runner as trt_module

    with pytest.raises(
        InputError, match=r"--providers applies to ONNX models; model\.plan is a TensorRT engine"
    ):
        open_runner(plan, providers="cpu")
    opened: list[Path] = []
    real = trt_module.TrtRunner

    def fake_runner(path: Path, **kwargs: object) -> TrtRunner:
        opened.append(Path(path))
        return real(path, cuda_binding=fake_trt.FakeCuda())

    monkeypatch.setattr(trt_module, "TrtRunner", fake_runner)
    with Stylizer(plan) as stylizer:
        x = np.random.default_rng(0).random((20, 24, 3), dtype=np.float32)
        expected = reference(model, np.ascontiguousarray(x.transpose(2, 0, 1)[None]))[0].transpose(1, 2, 0)
        np.testing.assert_allclose(stylizer.stylize_array(x), expected, atol=1e-5)
    assert opened == [plan]


def test_batches_larger_than_every_profile_run_in_chunks(plan: Path, model: Path) -> None:
    with TrtRunner(plan, cuda_binding=fake_trt.FakeCuda()) as runner:
        x = image(5, 48, 48)  # only SMALL (N <= 2) holds 48x48: chunks of 2, 2, 1
        np.testing.assert_allclose(runner.infer({"image": x})["stylized"], reference(model, x), atol=1e-6)
        assert runner.max_batch((5, 3, 48, 48)) == 2 and runner.max_batch((1, 3, 24, 24)) == 8
    shapes = [c[2] for c in fake_trt.calls("set_input_shape")]
    assert shapes == [(2, 3, 48, 48), (2, 3, 48, 48), (1, 3, 48, 48)]


def test_bench_checks_engine_profiles_before_timing(plan: Path) -> None:
    from nst.bench.run import check_engine_shapes

    check_engine_shapes(plan, [(1, 64, 64), (8, 32, 32)])
    expected = r"model\.plan has no profile for 4x3x64x64, 1x3x720x1280 \[min 1x3x16x16"
    with pytest.raises(InputError, match=expected):
        check_engine_shapes(plan, [(1, 64, 64), (4, 64, 64), (1, 720, 1280)])
    runner = TrtRunner(plan, cuda_binding=fake_trt.FakeCuda())
    with runner, pytest.raises(InputError, match="outside every profile"):
        runner.device_loop({"image": image(5, 48, 48)})  # would need chunks: not one timed launch


@pytest.mark.gpu
@pytest.mark.parametrize("binding", ["cuda-python", "pycuda"])
def test_real_engine_matches_onnx_runtime(tmp_path: Path, binding: str) -> None:
    """On a GPU TensorRT-RTX supports: build FP16 for it, run with graphs, compare with ORT CPU FP32."""
    pytest.importorskip("cuda.bindings.runtime" if binding == "cuda-python" else "pycuda.driver")
    fp32 = conv_model(tmp_path / "model.onnx")
    half = fp16_model(fp32, tmp_path / "model.fp16.onnx")
    plan = tmp_path / "model.plan"
    build_engine(half, plan, EngineConfig(fp16=True, profiles=(SMALL,)), cuda_binding=binding)
    x = image(2, 48, 40)
    with TrtRunner(plan, cuda_binding=binding, cuda_graph=binding == "cuda-python") as runner:
        for _ in range(3):  # plain, captured, replayed
            out = runner.infer({"image": x})["stylized"]
    psnr = 10 * np.log10(1.0 / max(float(np.mean((out - reference(fp32, x)) ** 2)), 1e-12))
    assert psnr >= 40.0
