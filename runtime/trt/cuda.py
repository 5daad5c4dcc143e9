"""Device memory, streams and CUDA graphs behind one small protocol, for the TensorRT runner.

Two CUDA bindings: cuda-python (``cuda-bindings``, NVIDIA's official bindings; the default)
and pycuda (``--cuda-binding pycuda``, for hosts that already standardise on it). Neither is
imported until a binding is made. Handles are plain ints (device pointers, stream handles)
so :mod:`nst.runtime.trt` never touches a binding type, and tests can run the runner against
a fake binding with numpy "device" memory. ("Backend" in nst means an inference backend:
ONNX Runtime, TensorRT; these are the CUDA bindings one of them uses.)

Status: written against the documented APIs; not run on a GPU here (see docs/GPU.md).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from nst.errors import InputError, MissingDependencyError, ModelError, did_you_mean

BINDINGS = ("cuda-python", "pycuda")


@dataclass(frozen=True)
class GpuInfo:
    """What an engine sidecar records about a GPU."""

    name: str
    compute_capability: str  # "major.minor"


@runtime_checkable
class CudaBinding(Protocol):
    """The CUDA runtime calls the TensorRT runner needs, with int handles."""

    name: str

    def device_info(self) -> GpuInfo: ...
    def malloc(self, nbytes: int) -> int: ...
    def free(self, ptr: int) -> None: ...
    def host_buffer(self, nbytes: int) -> np.ndarray: ...
    def free_host(self, buffer: np.ndarray) -> None: ...
    def stream_create(self) -> int: ...
    def stream_destroy(self, stream: int) -> None: ...
    def synchronize(self, stream: int) -> None: ...
    def copy_htod(self, dst: int, src: np.ndarray, stream: int) -> None: ...
    def copy_dtoh(self, dst: np.ndarray, src: int, stream: int) -> None: ...
    def graph_begin(self, stream: int) -> None: ...
    def graph_end(self, stream: int) -> Any: ...
    def graph_launch(self, graph: Any, stream: int) -> None: ...
    def graph_destroy(self, graph: Any) -> None: ...


def make_binding(binding: str | CudaBinding = "cuda-python", device: int = 0) -> CudaBinding:
    """Return a binding by name (``cuda-python`` or ``pycuda``), or ``binding`` itself.

    Raises:
        InputError: Unknown binding name or negative device.
        MissingDependencyError: The binding's package is not installed.
        ModelError: CUDA cannot select the device (no driver, no GPU).
    """
    if not isinstance(binding, str):
        if not isinstance(binding, CudaBinding):
            raise InputError(
                f"cuda_binding must be one of {list(BINDINGS)} or a CudaBinding, got {binding!r}"
            )
        return binding
    if device < 0:
        raise InputError(f"CUDA device must be >= 0, got {device}")
    if binding == "cuda-python":
        return CudaPythonBinding(device)
    if binding == "pycuda":
        return PycudaBinding(device)
    extra = did_you_mean(binding, BINDINGS)
    raise InputError(f"unknown CUDA binding {binding!r} (choose from {list(BINDINGS)}){extra}")


def detect_gpu(binding: str | CudaBinding = "cuda-python", device: int = 0) -> GpuInfo | None:
    """The CUDA device at hand, or None when there is none (or no binding to ask).

    Raises:
        InputError: Unknown binding name or negative device (a typo is not "no GPU").
    """
    try:
        return make_binding(binding, device).device_info()
    except (MissingDependencyError, ModelError):
        return None


def _import_cudart() -> Any:
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6

        return cudart
    except ImportError:
        pass
    try:
        from cuda import cudart  # older cuda-python layout

        return cudart
    except ImportError as exc:
        raise MissingDependencyError(
            "cuda-python is not installed; install it with: pip install 'nst[gpu]' "
            "(or use --cuda-binding pycuda)"
        ) from exc


class CudaPythonBinding:
    """cuda-python (``cuda.bindings.runtime``): every call returns ``(err, *values)``."""

    name = "cuda-python"

    def __init__(self, device: int = 0) -> None:
        self.cudart = _import_cudart()
        self.device = device
        self._streams: dict[int, Any] = {}
        self._host: dict[int, int] = {}  # id(buffer) -> pinned pointer
        self._call("cudaSetDevice", device)

    def _call(self, fn: str, *args: Any) -> Any:
        result = getattr(self.cudart, fn)(*args)
        err, values = result[0], result[1:]
        if err != self.cudart.cudaError_t.cudaSuccess:
            _, text = self.cudart.cudaGetErrorString(err)
            raise ModelError(f"CUDA {fn} failed: {text.decode() if isinstance(text, bytes) else text}")
        return values[0] if len(values) == 1 else values

    def device_info(self) -> GpuInfo:
        props = self._call("cudaGetDeviceProperties", self.device)
        name = props.name.decode(errors="replace") if isinstance(props.name, bytes) else str(props.name)
        return GpuInfo(name.rstrip("\x00").strip(), f"{props.major}.{props.minor}")

    def malloc(self, nbytes: int) -> int:
        return int(self._call("cudaMalloc", nbytes))

    def free(self, ptr: int) -> None:
        self._call("cudaFree", ptr)

    def host_buffer(self, nbytes: int) -> np.ndarray:
        ptr = int(self._call("cudaMallocHost", nbytes))
        # Pinned memory lets cudaMemcpyAsync overlap with compute; view it as a numpy array.
        buffer = np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(ptr))
        self._host[id(buffer)] = ptr
        return buffer

    def free_host(self, buffer: np.ndarray) -> None:
        ptr = self._host.pop(id(buffer), None)
        if ptr is not None:
            self._call("cudaFreeHost", ptr)

    def stream_create(self) -> int:
        stream = self._call("cudaStreamCreate")
        handle = int(stream)
        self._streams[handle] = stream
        return handle

    def _stream(self, stream: int) -> Any:
        return self._streams.get(stream, stream)  # 0: the default stream (as other callers pass)

    def stream_destroy(self, stream: int) -> None:
        self._call("cudaStreamDestroy", self._streams.pop(stream))

    def synchronize(self, stream: int) -> None:
        self._call("cudaStreamSynchronize", self._stream(stream))

    def copy_htod(self, dst: int, src: np.ndarray, stream: int) -> None:
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._call("cudaMemcpyAsync", dst, src.ctypes.data, src.nbytes, kind, self._stream(stream))

    def copy_dtoh(self, dst: np.ndarray, src: int, stream: int) -> None:
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._call("cudaMemcpyAsync", dst.ctypes.data, src, dst.nbytes, kind, self._stream(stream))

    def graph_begin(self, stream: int) -> None:
        # Thread-local capture: other threads' runners may allocate while this one captures.
        mode = self.cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        self._call("cudaStreamBeginCapture", self._stream(stream), mode)

    def graph_end(self, stream: int) -> Any:
        graph = self._call("cudaStreamEndCapture", self._stream(stream))
        executable = self._call("cudaGraphInstantiate", graph, 0)
        self._call("cudaGraphDestroy", graph)  # the executable graph keeps what it needs
        return executable

    def graph_launch(self, graph: Any, stream: int) -> None:
        self._call("cudaGraphLaunch", graph, self._stream(stream))

    def graph_destroy(self, graph: Any) -> None:
        self._call("cudaGraphExecDestroy", graph)


class PycudaBinding:
    """pycuda on the device's primary context. CUDA graphs need the cuda-python binding."""

    name = "pycuda"

    def __init__(self, device: int = 0) -> None:
        try:
            import pycuda.driver as cuda
        except ImportError as exc:
            raise MissingDependencyError(
                "pycuda is not installed; install it with: pip install 'nst[trt]'"
            ) from exc
        self.cuda = cuda
        try:
            cuda.init()
            self.dev = cuda.Device(device)
            # The primary context is the one the CUDA runtime (and so TensorRT) uses.
            self.context = self.dev.retain_primary_context()
            self.context.push()
        except cuda.Error as exc:
            raise ModelError(f"CUDA (pycuda) cannot open device {device}: {exc}") from exc
        self._alloc: dict[int, Any] = {}
        self._streams: dict[int, Any] = {}

    def device_info(self) -> GpuInfo:
        major, minor = self.dev.compute_capability()
        return GpuInfo(self.dev.name(), f"{major}.{minor}")

    def malloc(self, nbytes: int) -> int:
        alloc = self._guard(self.cuda.mem_alloc, nbytes)
        self._alloc[int(alloc)] = alloc
        return int(alloc)

    def free(self, ptr: int) -> None:
        self._guard(self._alloc.pop(ptr).free)

    def host_buffer(self, nbytes: int) -> np.ndarray:
        return self._guard(self.cuda.pagelocked_empty, (nbytes,), np.uint8)

    def free_host(self, buffer: np.ndarray) -> None:
        base = getattr(buffer, "base", None)
        if base is not None and hasattr(base, "free"):
            self._guard(base.free)

    def stream_create(self) -> int:
        stream = self._guard(self.cuda.Stream)
        self._streams[int(stream.handle)] = stream
        return int(stream.handle)

    def stream_destroy(self, stream: int) -> None:
        self._streams.pop(stream)

    def synchronize(self, stream: int) -> None:
        target = self._streams.get(stream)
        self._guard(target.synchronize if target is not None else self.cuda.Context.synchronize)

    def copy_htod(self, dst: int, src: np.ndarray, stream: int) -> None:
        self._guard(self.cuda.memcpy_htod_async, dst, src, self._streams.get(stream))

    def copy_dtoh(self, dst: np.ndarray, src: int, stream: int) -> None:
        self._guard(self.cuda.memcpy_dtoh_async, dst, src, self._streams.get(stream))

    def graph_begin(self, stream: int) -> None:
        raise InputError("CUDA graph capture needs the cuda-python binding (--cuda-binding cuda-python)")

    def graph_end(self, stream: int) -> Any:
        raise InputError("CUDA graph capture needs the cuda-python binding (--cuda-binding cuda-python)")

    def graph_launch(self, graph: Any, stream: int) -> None:
        raise InputError("CUDA graph capture needs the cuda-python binding (--cuda-binding cuda-python)")

    def graph_destroy(self, graph: Any) -> None:
        """Nothing to destroy: this binding never captures."""

    def _guard(self, fn: Any, *args: Any) -> Any:
        # pycuda's current context is per thread: make ours current in threads that lack one.
        pushed = self.cuda.Context.get_current() is None
        if pushed:
            self.context.push()
        try:
            return fn(*args)
        except self.cuda.Error as exc:
            raise ModelError(f"CUDA (pycuda) {getattr(fn, '__name__', fn)} failed: {exc}") from exc
        finally:
            if pushed:
                self.cuda.Context.pop()
