from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from nst.contract.spec import ExportSpec, TensorSpec
from nst.errors import InputError, ModelError
from nst.runtime.onnxrt.gpu import (
    CPU_EP,
    CUDA_EP,
    TRT_EP,
    IoBinder,
    OrtGpuOptions,
    output_shapes,
    provider_list,
    session_dtypes,
)
from nst.runtime.onnxrt.runner import OrtRunner
from tests.runtime.onnx_models import tiny_model


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    return tiny_model(tmp_path / "model.onnx")


def image(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 3, h, w), dtype=np.float32)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"device_id": -1}, "device_id must be an integer >= 0"),
        ({"device_id": True}, "device_id must be an integer"),
        ({"cuda_graph": True}, "cuda_graph needs io_binding"),
        ({"cuda_options": {"cudnn_conv_algo_serch": "HEURISTIC"}}, "did you mean 'cudnn_conv_algo_search'"),
        ({"cuda_options": {"enable_cuda_graph": "1"}}, "through OrtGpuOptions.cuda_graph"),
        ({"trt_options": {"trt_engine_cache_path": "x"}}, "through OrtGpuOptions.trt_cache_dir"),
        ({"trt_options": {"fp16": True}}, "unknown TensorRT EP option 'fp16'"),
    ],
)
def test_option_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        OrtGpuOptions(**kwargs)


def test_cache_dir_must_not_be_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="is a file; give a folder"):
        OrtGpuOptions(trt_cache_dir=tmp_path / "f")


@pytest.mark.parametrize(
    ("kwargs", "providers", "message"),
    [
        (
            {"io_binding": True, "cuda_graph": True},
            [CPU_EP],
            "cuda_graph needs the CUDA or TensorRT provider",
        ),
        (
            {"cuda_options": {"use_tf32": 0}},
            [TRT_EP, CPU_EP],
            "CUDA EP options given but CUDAExecutionProvider",
        ),
        ({"trt_fp16": True}, [CUDA_EP, CPU_EP], "TensorRT EP options given but TensorrtExecutionProvider"),
    ],
)
def test_options_need_their_provider(kwargs: dict, providers: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        OrtGpuOptions(**kwargs).check_providers(providers)


def test_provider_list_carries_string_options(tmp_path: Path) -> None:
    options = OrtGpuOptions(device_id=1, io_binding=True, cuda_graph=True, trt_fp16=True,
                            trt_cache_dir=tmp_path, cuda_options={"cudnn_conv_algo_search": "EXHAUSTIVE"},
                            trt_options={"trt_max_workspace_size": 2**31})  # fmt: skip
    options.check_providers([TRT_EP, CUDA_EP, CPU_EP])
    assert provider_list([TRT_EP, CUDA_EP, CPU_EP], options) == [
        (TRT_EP, {"device_id": "1", "trt_max_workspace_size": "2147483648", "trt_fp16_enable": "True",
                  "trt_engine_cache_enable": "True", "trt_engine_cache_path": str(tmp_path),
                  "trt_timing_cache_enable": "True", "trt_timing_cache_path": str(tmp_path),
                  "trt_cuda_graph_enable": "True"}),
        (CUDA_EP, {"device_id": "1", "cudnn_conv_algo_search": "EXHAUSTIVE", "enable_cuda_graph": "1"}),
        CPU_EP,
    ]  # fmt: skip
    assert provider_list([CPU_EP], OrtGpuOptions()) == [CPU_EP]


def test_runner_refuses_gpu_options_on_cpu(model: Path) -> None:
    with pytest.raises(InputError, match="cuda_graph needs the CUDA or TensorRT provider"):
        OrtRunner(model, providers="cpu", gpu=OrtGpuOptions(io_binding=True, cuda_graph=True))


def test_io_binding_path_matches_plain_run_on_cpu(model: Path) -> None:
    plain = OrtRunner(model, providers="cpu")
    bound = OrtRunner(model, providers="cpu", gpu=OrtGpuOptions(io_binding=True))
    first, second, third = image(1, 20, 24, 0), image(1, 20, 24, 1), image(2, 17, 33, 2)
    kept = first.copy()
    out1 = bound.infer({"image": first})["stylized"]
    out2 = bound.infer({"image": second})["stylized"]  # same shape: buffers updated in place
    out3 = bound.infer({"image": third})["stylized"]  # new shape: rebound
    for x, out in ((first, out1), (second, out2), (third, out3)):
        np.testing.assert_allclose(out, plain.infer({"image": x})["stylized"], atol=1e-6)
    np.testing.assert_array_equal(first, kept)  # the caller's array is never written
    assert not np.allclose(out1, out2)  # earlier outputs do not alias the reused buffer


def test_cuda_graph_binder_refuses_a_new_shape(model: Path) -> None:
    runner = OrtRunner(model, providers="cpu")
    binder = IoBinder(runner.session, OrtGpuOptions(io_binding=True, cuda_graph=True),
                      lambda f: output_shapes(runner.spec, f))  # fmt: skip
    binder.run({"image": image(1, 16, 16)})
    binder.run({"image": image(1, 16, 16, 1)})
    with pytest.raises(InputError, match=r"captured a CUDA graph for .*cuda_graph needs fixed shapes"):
        binder.run({"image": image(1, 32, 16)})


def test_fp16_io_model_takes_and_returns_float32(model: Path, tmp_path: Path) -> None:
    half = OrtRunner(tiny_model(tmp_path / "half.onnx", io_dtype="float16"), providers="cpu")
    assert half.input_dtypes == {"image": np.float16}
    x = image(1, 24, 24)
    out = half.infer({"image": x})["stylized"]
    assert out.dtype == np.float32
    np.testing.assert_allclose(
        out, OrtRunner(model, providers="cpu").infer({"image": x})["stylized"], atol=2e-3
    )


def test_helpers_reject_what_they_cannot_handle() -> None:
    with pytest.raises(ModelError, match="unsupported type tensor"):
        session_dtypes([SimpleNamespace(name="names", type="tensor(string)")])
    spec = ExportSpec(family="x", outputs=(TensorSpec("y", ("batch", "k")),))
    with pytest.raises(InputError, match=r"output 'y' axes \['k'\]"):
        output_shapes(spec, {"image": image(1, 16, 16)})


@pytest.mark.gpu
def test_cuda_ep_fp16_graph_parity(model: Path, tmp_path: Path) -> None:
    """On a GPU with onnxruntime-gpu: CUDA EP + IO binding + CUDA graph on an FP16-I/O model."""
    import onnxruntime as ort

    if CUDA_EP not in ort.get_available_providers():
        pytest.skip("onnxruntime-gpu is not installed (CUDAExecutionProvider missing)")
    reference = OrtRunner(model, providers="cpu").infer({"image": image(1, 64, 64)})["stylized"]
    options = OrtGpuOptions(io_binding=True, cuda_graph=True)
    with OrtRunner(tiny_model(tmp_path / "h.onnx", io_dtype="float16"), providers="cuda", gpu=options) as gpu:
        for _ in range(3):  # the first run captures, the others replay
            out = gpu.infer({"image": image(1, 64, 64)})["stylized"]
    psnr = 10 * np.log10(1.0 / max(float(np.mean((out - reference) ** 2)), 1e-12))
    assert psnr >= 40.0


def test_a_provider_that_does_not_start_is_an_error_not_a_cpu_fallback(
    tiny_onnx: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nst.errors import MissingDependencyError
    from nst.runtime.onnxrt import runner as onnxrt

    # As if CUDA were listed as available but failed to start: ORT then runs on the CPU EP.
    monkeypatch.setattr(
        onnxrt, "resolve_providers", lambda _: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    monkeypatch.setattr(onnxrt, "provider_list", lambda providers, options: ["CPUExecutionProvider"])
    with pytest.raises(MissingDependencyError, match=r"could not start CUDAExecutionProvider for tiny\.onnx"):
        onnxrt.OrtRunner(tiny_onnx, providers="cuda")
