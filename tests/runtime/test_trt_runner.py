import json
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from nst.contract.profiles import Profile
from nst.errors import EngineCompatError, InputError, MissingDependencyError, ModelError
from nst.runtime.trt.build import EngineConfig, build_engine
from nst.runtime.trt.cuda import GpuInfo, make_backend
from nst.runtime.trt.runner import TrtRunner
from nst.runtime.trt.sidecar import Sidecar, sidecar_path
from tests.runtime import fake_trt
from tests.runtime.onnx_models import tiny_model

SMALL = Profile((1, 3, 16, 16), (1, 3, 32, 32), (2, 3, 64, 64))
BATCHED = Profile((4, 3, 16, 16), (8, 3, 32, 32), (8, 3, 32, 32))


@pytest.fixture()
def trt(monkeypatch: pytest.MonkeyPatch):
    mod = fake_trt.module()
    monkeypatch.setitem(sys.modules, "tensorrt", mod)
    return mod


@pytest.fixture()
def plan(trt, tmp_path: Path) -> Path:
    model = tiny_model(tmp_path / "model.onnx")
    out = tmp_path / "model.plan"
    build_engine(
        model, out, EngineConfig(fp16=True, profiles=(SMALL, BATCHED)), cuda_backend=fake_trt.FakeCuda()
    )
    fake_trt.CALLS.clear()
    return out


def image(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 3, h, w), dtype=np.float32)


def test_runs_with_shapes_set_per_call_and_profiles_switched(plan: Path) -> None:
    backend = fake_trt.FakeCuda()
    with TrtRunner(plan, cuda_backend=backend) as runner:
        assert runner.profiles == (SMALL, BATCHED)
        x = image(1, 20, 30)
        np.testing.assert_allclose(runner.infer({"image": x})["stylized"], 1 - x)
        y = image(8, 24, 24, seed=1)
        out = runner.infer({"image": y})["stylized"]
        assert out.shape == (8, 3, 24, 24) and out.dtype == np.float32
        np.testing.assert_allclose(out, 1 - y)
    assert fake_trt.calls("set_input_shape") == [("set_input_shape", "image", (1, 3, 20, 30)),
                                                 ("set_input_shape", "image", (8, 3, 24, 24))]  # fmt: skip
    assert fake_trt.calls("set_optimization_profile_async") == [("set_optimization_profile_async", 1)]
    assert backend.live == set() and len(fake_trt.calls("stream_destroy")) == 1
    runner.close()  # idempotent
    with pytest.raises(ModelError, match="is closed"):
        runner.infer({"image": x})


def test_shape_outside_every_profile_names_them(plan: Path) -> None:
    with TrtRunner(plan, cuda_backend=fake_trt.FakeCuda()) as runner, pytest.raises(
        InputError, match=r"image shape 1x3x16x100 is outside every profile of model\.plan "
        r"\[min 1x3x16x16, opt 1x3x32x32, max 2x3x64x64 \| min 4x3x16x16"
    ):  # fmt: skip
        runner.infer({"image": image(1, 16, 100)})
    with (
        TrtRunner(plan, cuda_backend=fake_trt.FakeCuda()) as runner,
        pytest.raises(InputError, match="too small"),
    ):
        runner.infer({"image": image(1, 8, 8)})  # the Runner's own checks still come first


def test_cuda_graph_captured_on_second_call_then_replayed(plan: Path) -> None:
    with TrtRunner(plan, cuda_backend=fake_trt.FakeCuda(), cuda_graph=True) as runner:
        for seed in range(4):
            x = image(1, 32, 32, seed)
            np.testing.assert_allclose(runner.infer({"image": x})["stylized"], 1 - x)
        kinds = [c[0] for c in fake_trt.CALLS if c[0] in ("execute_async_v3", "graph_begin", "graph_launch")]
        assert kinds == ["execute_async_v3", "graph_begin", "graph_launch", "graph_launch", "graph_launch"]
        x = image(2, 64, 64)  # larger: buffers grow, the old graph's addresses are stale
        np.testing.assert_allclose(runner.infer({"image": x})["stylized"], 1 - x)
        assert len(fake_trt.calls("graph_destroy")) == 1
        assert fake_trt.CALLS[-1] == ("execute_async_v3",)


def test_streams_serve_concurrent_callers(plan: Path) -> None:
    results: dict[int, bool] = {}

    def work(runner: TrtRunner, i: int) -> None:
        x = image(1, 16 + i, 16, seed=i)
        results[i] = bool(np.allclose(runner.infer({"image": x})["stylized"], 1 - x))

    with TrtRunner(plan, cuda_backend=fake_trt.FakeCuda(), streams=2) as runner:
        threads = [threading.Thread(target=work, args=(runner, i)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == dict.fromkeys(range(6), True)
    assert len(fake_trt.calls("stream_destroy")) == 2


@pytest.mark.parametrize(
    ("gpu", "message"),
    [
        (GpuInfo("NVIDIA A100-SXM4-80GB", "8.0"), r"compute capability 9\.0 \(engine\) vs 8\.0 here; GPU"),
        (GpuInfo("NVIDIA H200", "9.0"), r"GPU 'NVIDIA H100 80GB HBM3' \(engine\) vs 'NVIDIA H200' here"),
    ],
)
def test_other_gpu_is_refused_with_rebuild_command(plan: Path, gpu: GpuInfo, message: str) -> None:
    with pytest.raises(
        EngineCompatError, match=message + r".*rebuild it with: nst build-engine .*--fp16 .*--force"
    ):
        TrtRunner(plan, cuda_backend=fake_trt.FakeCuda(gpu))
    assert fake_trt.calls("deserialize_cuda_engine") == []  # refused before TensorRT sees the file


def test_other_tensorrt_is_refused(plan: Path, trt) -> None:
    trt.__version__ = "10.7.0.23"
    with pytest.raises(EngineCompatError, match=r"TensorRT 10\.3\.0\.26 \(engine\) vs 10\.7\.0\.23 here"):
        TrtRunner(plan, cuda_backend=fake_trt.FakeCuda())


def test_version_compatible_engine_allows_host_code(plan: Path, trt) -> None:
    path = sidecar_path(plan)
    sidecar = Sidecar.from_json(path.read_text())
    path.write_text(replace(sidecar, version_compatible=True).to_json())
    trt.__version__ = "10.7.0.23"
    with TrtRunner(plan, cuda_backend=fake_trt.FakeCuda()):
        pass
    assert fake_trt.calls("deserialize_cuda_engine") == [("deserialize_cuda_engine", True)]


def test_engine_profiles_must_match_sidecar(plan: Path) -> None:
    body = json.loads(plan.read_bytes()[len(fake_trt.ENGINE_MAGIC) :])
    body["profiles"] = body["profiles"][:1]
    fake_trt.write_plan(plan, body)
    with pytest.raises(EngineCompatError, match=r"profiles \[.*\] \(sidecar\) vs \[.*\] \(engine file\)"):
        TrtRunner(plan, cuda_backend=fake_trt.FakeCuda())


def test_broken_or_missing_files(plan: Path, tmp_path: Path) -> None:
    plan.write_bytes(b"garbage")
    with pytest.raises(EngineCompatError, match=r"cannot load .*magicTagRead.*rebuild it with"):
        TrtRunner(plan, cuda_backend=fake_trt.FakeCuda())
    sidecar_path(plan).unlink()
    with pytest.raises(ModelError, match=r"model\.plan\.json not found"):
        TrtRunner(plan, cuda_backend=fake_trt.FakeCuda())
    with pytest.raises(ModelError, match="engine file not found"):
        TrtRunner(tmp_path / "none.plan", cuda_backend=fake_trt.FakeCuda())


def test_option_validation(plan: Path) -> None:
    with pytest.raises(InputError, match="streams must be >= 1"):
        TrtRunner(plan, streams=0)
    with pytest.raises(InputError, match="needs the cuda-python backend"):
        TrtRunner(plan, cuda_backend="pycuda", cuda_graph=True)
    with pytest.raises(InputError, match="did you mean 'pycuda'"):
        make_backend("pycud")
    with pytest.raises(InputError, match="device must be >= 0"):
        make_backend("cuda-python", device=-1)


def test_missing_libraries_name_their_extra(plan: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("cuda", "cuda.bindings", "pycuda", "pycuda.driver"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MissingDependencyError, match=r"cuda-python is not installed.*nst\[gpu\]"):
        TrtRunner(plan)
    with pytest.raises(MissingDependencyError, match=r"pycuda is not installed.*nst\[trt\]"):
        TrtRunner(plan, cuda_backend="pycuda")
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(MissingDependencyError, match=r"tensorrt is not installed.*nst\[trt\]"):
        TrtRunner(plan, cuda_backend=fake_trt.FakeCuda())


@pytest.mark.gpu
@pytest.mark.trt
@pytest.mark.parametrize("backend", ["cuda-python", "pycuda"])
def test_real_tensorrt_engine_matches_onnx_runtime(tmp_path: Path, backend: str) -> None:
    """On a GPU with TensorRT: build FP16 (norms FP32), run with graphs, compare with ORT CPU FP32."""
    from nst.runtime.onnxrt.runner import OrtRunner

    pytest.importorskip("cuda.bindings.runtime" if backend == "cuda-python" else "pycuda.driver")
    model = tiny_model(tmp_path / "model.onnx")
    plan = tmp_path / "model.plan"
    build_engine(model, plan, EngineConfig(fp16=True, profiles=(SMALL,)), cuda_backend=backend)
    x = image(2, 48, 40)
    reference = OrtRunner(model, providers="cpu").infer({"image": x})["stylized"]
    with TrtRunner(plan, cuda_backend=backend, cuda_graph=backend == "cuda-python") as runner:
        for _ in range(3):  # plain, captured, replayed
            out = runner.infer({"image": x})["stylized"]
    psnr = 10 * np.log10(1.0 / max(float(np.mean((out - reference) ** 2)), 1e-12))
    assert psnr >= 40.0


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
    backend = CountingCuda()
    with TrtRunner(plan, cuda_backend=backend, cuda_graph=True) as runner:
        run = runner.device_loop({"image": image(1, 32, 32)})
        fake_trt.CALLS.clear()
        backend.counts = {"copy": 0, "sync": 0}
        for _ in range(3):
            run()
        kinds = [c[0] for c in fake_trt.CALLS]
        assert kinds == ["graph_begin", "graph_launch", "graph_launch", "graph_launch"]
        assert backend.counts == {"copy": 0, "sync": 3}
    with (
        TrtRunner(plan, cuda_backend=fake_trt.FakeCuda(), streams=2) as runner,
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
    engine = data["engine"]
    assert engine["precisions"] == ["fp32", "fp16"] and engine["gpu"] == "NVIDIA H100 80GB HBM3"
    assert engine["profiles"][0] == "min 1x3x16x16, opt 1x3x32x32, max 2x3x64x64"
    text = CliRunner().invoke(app, ["info", str(plan)]).output
    assert "     tensorrt: " in text and "  built_by: nst build-engine" in text


def test_stylize_opens_engines_with_the_trt_runner(plan: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
        return real(path, cuda_backend=fake_trt.FakeCuda())

    monkeypatch.setattr(trt_module, "TrtRunner", fake_runner)
    with Stylizer(plan) as stylizer:
        x = np.random.default_rng(0).random((20, 24, 3), dtype=np.float32)
        np.testing.assert_allclose(stylizer.stylize_array(x), 1 - x, atol=1e-6)
    assert opened == [plan]


def test_batches_larger_than_every_profile_run_in_chunks(plan: Path) -> None:
    with TrtRunner(plan, cuda_backend=fake_trt.FakeCuda()) as runner:
        x = image(5, 48, 48)  # only SMALL (N <= 2) holds 48x48: chunks of 2, 2, 1
        np.testing.assert_allclose(runner.infer({"image": x})["stylized"], 1 - x)
        assert runner.max_batch((5, 3, 48, 48)) == 2 and runner.max_batch((1, 3, 24, 24)) == 8
    shapes = [c[2] for c in fake_trt.calls("set_input_shape")]
    assert shapes == [(2, 3, 48, 48), (2, 3, 48, 48), (1, 3, 48, 48)]


def test_bench_checks_engine_profiles_before_timing(plan: Path) -> None:
    from nst.bench.run import check_engine_shapes

    check_engine_shapes(plan, [(1, 64, 64), (8, 32, 32)])
    expected = r"model\.plan has no profile for 4x3x64x64, 1x3x720x1280 \[min 1x3x16x16"
    with pytest.raises(InputError, match=expected):
        check_engine_shapes(plan, [(1, 64, 64), (4, 64, 64), (1, 720, 1280)])
    runner = TrtRunner(plan, cuda_backend=fake_trt.FakeCuda())
    with runner, pytest.raises(InputError, match="outside every profile"):
        runner.device_loop({"image": image(5, 48, 48)})  # would need chunks: not one timed launch
