"""The CUDA bindings against fake ``cuda.bindings.runtime`` / ``pycuda.driver`` (no GPU here)."""

import enum
import sys
import types
from typing import Any

import numpy as np
import pytest

from nst.errors import InputError, ModelError
from nst.runtime.trt.cuda import CudaBinding, CudaPythonBinding, detect_gpu, make_binding

Err = enum.Enum("cudaError_t", ["cudaSuccess", "cudaErrorMemoryAllocation"])


def fake_cudart(calls: list) -> types.ModuleType:
    """Each function returns ``(err, *values)`` like cuda-python; cudaMalloc of > 1 GiB fails."""
    mod = types.ModuleType("cuda.bindings.runtime")
    mod.cudaError_t = Err  # type: ignore[attr-defined]
    kinds = ["cudaMemcpyHostToDevice", "cudaMemcpyDeviceToHost"]
    mod.cudaMemcpyKind = enum.Enum("cudaMemcpyKind", kinds)  # type: ignore[attr-defined]
    mod.cudaStreamCaptureMode = enum.Enum("Mode", ["cudaStreamCaptureModeThreadLocal"])  # type: ignore[attr-defined]

    def record(name: str, *values: Any):
        def fn(*args: Any) -> tuple:
            calls.append((name, *args))
            if name == "cudaMalloc" and args[0] > 1 << 30:
                return (Err.cudaErrorMemoryAllocation, None)
            return (Err.cudaSuccess, *values)

        return fn

    props = types.SimpleNamespace(name=b"NVIDIA H100 80GB HBM3\x00\x00", major=9, minor=0)
    returns = {"cudaGetDeviceProperties": (props,), "cudaMalloc": (0xA000,), "cudaStreamCreate": (77,),
               "cudaStreamEndCapture": ("graph",), "cudaGraphInstantiate": ("exec",)}  # fmt: skip
    plain = "SetDevice Free StreamSynchronize StreamDestroy MemcpyAsync StreamBeginCapture GraphDestroy"
    returns.update({f"cuda{n}": () for n in [*plain.split(), "GraphLaunch", "GraphExecDestroy"]})
    for name, values in returns.items():
        setattr(mod, name, record(name, *values))
    mod.cudaGetErrorString = lambda err: (Err.cudaSuccess, b"out of memory")  # type: ignore[attr-defined]
    return mod


@pytest.fixture()
def calls(monkeypatch: pytest.MonkeyPatch) -> list:
    recorded: list = []
    bindings = types.ModuleType("cuda.bindings")
    bindings.runtime = fake_cudart(recorded)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cuda", types.ModuleType("cuda"))
    monkeypatch.setitem(sys.modules, "cuda.bindings", bindings)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", bindings.runtime)  # type: ignore[attr-defined]
    return recorded


def test_cuda_python_binding_calls(calls: list) -> None:
    backend = make_binding("cuda-python", device=1)
    assert isinstance(backend, CudaPythonBinding) and isinstance(backend, CudaBinding)
    info = backend.device_info()
    assert (info.name, info.compute_capability) == ("NVIDIA H100 80GB HBM3", "9.0")
    stream = backend.stream_create()
    host = np.zeros(16, np.uint8)
    backend.copy_htod(backend.malloc(16), host, stream)
    backend.graph_begin(stream)
    graph = backend.graph_end(stream)
    backend.graph_launch(graph, stream)
    backend.synchronize(0)  # the default stream passes through as 0
    names = [c[0] for c in calls]
    assert names == [
        "cudaSetDevice",
        "cudaGetDeviceProperties",
        "cudaStreamCreate",
        "cudaMalloc",
        "cudaMemcpyAsync",
        "cudaStreamBeginCapture",
        "cudaStreamEndCapture",
        "cudaGraphInstantiate",
        "cudaGraphDestroy",
        "cudaGraphLaunch",
        "cudaStreamSynchronize",
    ]
    assert calls[0] == ("cudaSetDevice", 1) and calls[-1] == ("cudaStreamSynchronize", 0)
    assert calls[4][1:4] == (0xA000, host.ctypes.data, 16)


def test_cuda_errors_become_model_errors(calls: list) -> None:
    with pytest.raises(ModelError, match="CUDA cudaMalloc failed: out of memory"):
        make_binding("cuda-python").malloc(2 << 30)


class FakeAlloc(int):
    def free(self) -> None:
        CALLS.append(("free", int(self)))


CALLS: list = []


def fake_pycuda() -> types.ModuleType:
    """``pycuda.driver`` as far as the backend uses it; no context is current at first."""
    drv = types.ModuleType("pycuda.driver")

    class Error(Exception):
        pass

    class Context:
        current = None

        @staticmethod
        def get_current() -> Any:
            return Context.current

        @staticmethod
        def pop() -> None:
            CALLS.append(("pop",))

        @staticmethod
        def synchronize() -> None:
            CALLS.append(("context_synchronize",))

    ctx = types.SimpleNamespace(push=lambda: CALLS.append(("push",)))
    device = types.SimpleNamespace(name=lambda: "NVIDIA L4", compute_capability=lambda: (8, 9),
                                   retain_primary_context=lambda: ctx)  # fmt: skip

    def mem_alloc(nbytes: int) -> FakeAlloc:
        if nbytes > 1 << 30:
            raise Error("cuMemAlloc failed: out of memory")
        return FakeAlloc(0xB000)

    drv.Error, drv.Context, drv.mem_alloc = Error, Context, mem_alloc  # type: ignore[attr-defined]
    drv.init = lambda: CALLS.append(("init",))  # type: ignore[attr-defined]
    drv.Device = lambda i: device  # type: ignore[attr-defined]
    return drv


def test_pycuda_binding_pushes_its_context_and_maps_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    pycuda = types.ModuleType("pycuda")
    pycuda.driver = fake_pycuda()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pycuda", pycuda)
    monkeypatch.setitem(sys.modules, "pycuda.driver", pycuda.driver)  # type: ignore[attr-defined]
    CALLS.clear()
    backend = make_binding("pycuda")
    info = backend.device_info()
    assert (info.name, info.compute_capability) == ("NVIDIA L4", "8.9")
    backend.free(backend.malloc(64))
    backend.synchronize(0)  # unknown stream: the context's
    assert CALLS == [("init",), ("push",), ("push",), ("pop",), ("push",), ("free", 0xB000), ("pop",),
                     ("push",), ("context_synchronize",), ("pop",)]  # fmt: skip
    with pytest.raises(
        ModelError, match=r"CUDA \(pycuda\) mem_alloc failed: cuMemAlloc failed: out of memory"
    ):
        backend.malloc(2 << 30)
    with pytest.raises(InputError, match="needs the cuda-python binding"):
        backend.graph_begin(0)


def test_real_cuda_python_on_a_machine_without_gpu() -> None:
    """With cuda-python installed but no GPU/driver, the real bindings' errors become ModelError."""
    pytest.importorskip("cuda.bindings.runtime")
    from pathlib import Path

    if Path("/dev/nvidia0").exists():
        pytest.skip("a GPU is present: covered by the gpu-marked tests")
    with pytest.raises(ModelError, match="CUDA cudaSetDevice failed: "):
        make_binding("cuda-python")
    assert detect_gpu("cuda-python") is None  # no GPU is not an error when probing


def test_detect_gpu(calls: list, monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = detect_gpu("cuda-python")
    assert gpu is not None and (gpu.name, gpu.compute_capability) == ("NVIDIA H100 80GB HBM3", "9.0")
    with pytest.raises(InputError, match="unknown CUDA binding"):
        detect_gpu("cuda-pyton")  # a typo is not "no GPU"
    for name in ("cuda", "cuda.bindings", "cuda.bindings.runtime"):
        monkeypatch.setitem(sys.modules, name, None)
    assert detect_gpu("cuda-python") is None  # no binding installed: nothing to ask
