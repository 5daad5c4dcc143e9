"""A fake TensorRT *runtime* (deserialise, execute) and a numpy "CUDA" binding, for tests.

Engines in the tests are built for real with ``tensorrt_rtx`` (no GPU needed); what a machine
without a GPU cannot do is load and run them. :func:`register` makes a real plan loadable by
the fake ``Runtime``: its engine reports what the real one would, taken from the real build
and the real model, not from the code under test:

* I/O names and dtypes: the strongly typed network's, recorded by the build in the sidecar
  (``io_dtypes``: float16 for FP16-I/O models);
* every input's min/opt/max per profile: derived from the ExportSpec exactly as the builder
  set them (or given, to simulate an engine file that disagrees with its sidecar);
* output shapes: what the source ONNX computes for the input shapes (ONNX Runtime on zeros),
  so an SR engine's output is 4x or 8x its input;
* execution: ONNX Runtime runs the source ONNX on the fake device memory, cast from and to
  the engine's I/O dtypes.

Install with ``monkeypatch.setitem(sys.modules, "tensorrt_rtx", fake_trt.module())``.
``CALLS`` records runtime calls in order (profile switches, shapes, enqueues, graphs).
"""

from __future__ import annotations

import enum
import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from nst.contract.metadata import ModelMetadata
from nst.contract.profiles import Profile, input_shapes
from nst.runtime.trt.cuda import GpuInfo
from nst.runtime.trt.sidecar import read_sidecar

CALLS: list[tuple[Any, ...]] = []
A6000 = GpuInfo("NVIDIA RTX A6000", "8.6")
PLANS: dict[str, PlanInfo] = {}


def real_version(name: str = "tensorrt_rtx") -> str:
    """The installed library's version (the fake must report what the real one would)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version({"tensorrt_rtx": "tensorrt_rtx_cu13", "tensorrt": "tensorrt"}[name])
    except PackageNotFoundError:
        return "1.7.1.116"


class Severity(enum.IntEnum):
    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


class ILogger:
    Severity = Severity

    def __init__(self) -> None:
        pass


TensorIOMode = enum.Enum("TensorIOMode", ["INPUT", "OUTPUT"])


def nptype(dtype: str) -> type:
    return np.dtype(dtype).type


@dataclass
class PlanInfo:
    """What a real plan's engine holds, from its sidecar and source model."""

    onnx: Path
    io_dtypes: dict[str, str]
    inputs: list[str]
    profiles: list[dict[str, tuple[tuple[int, ...], ...]]]


def register(plan: Path, *, onnx: Path | None = None, profiles: tuple[Profile, ...] | None = None) -> None:
    """Make the real engine ``plan`` loadable by the fake runtime.

    Args:
        plan: A plan built by nst (its sidecar is read).
        onnx: The model to execute (default: the sidecar's ``onnx_path``).
        profiles: Image-input profiles the engine *file* holds (default: the sidecar's).
    """
    sidecar = read_sidecar(plan)
    spec = ModelMetadata.from_props(sidecar.model_metadata).spec
    chosen = profiles if profiles is not None else sidecar.profiles
    inputs = [t.name for t in spec.inputs]
    per_input = [input_shapes(spec, p) for p in chosen]
    info = PlanInfo(Path(onnx or sidecar.onnx_path), dict(sidecar.io_dtypes), inputs, per_input)
    PLANS[hashlib.sha256(plan.read_bytes()).hexdigest()] = info


class Runtime:
    def __init__(self, logger: Any) -> None:
        self.logger = logger
        self.engine_host_code_allowed = False

    def deserialize_cuda_engine(self, data: bytes) -> Engine | None:
        CALLS.append(("deserialize_cuda_engine", self.engine_host_code_allowed))
        info = PLANS.get(hashlib.sha256(bytes(data)).hexdigest())
        if info is None:  # what TensorRT logs for bytes that are no plan of this release
            self.logger.log(Severity.ERROR, "Serialization assertion magicTagRead == kMAGIC_TAG failed")
            return None
        return Engine(info)


class Engine:
    def __init__(self, info: PlanInfo) -> None:
        self.info = info
        self.names = list(info.io_dtypes)
        self._session: Any = None
        self._shapes: dict[tuple[Any, ...], dict[str, tuple[int, ...]]] = {}

    num_io_tensors = property(lambda self: len(self.names))
    num_optimization_profiles = property(lambda self: len(self.info.profiles))

    def get_tensor_name(self, i: int) -> str:
        return self.names[i]

    def get_tensor_mode(self, name: str) -> Any:
        return TensorIOMode.INPUT if name in self.info.inputs else TensorIOMode.OUTPUT

    def get_tensor_dtype(self, name: str) -> str:
        return self.info.io_dtypes[name]

    def get_tensor_profile_shape(self, name: str, index: int) -> list[tuple[int, ...]]:
        return list(self.info.profiles[index][name])

    def create_execution_context(self) -> Context:
        return Context(self)

    @property
    def session(self) -> Any:
        if self._session is None:
            import onnxruntime as ort

            self._session = ort.InferenceSession(str(self.info.onnx), providers=["CPUExecutionProvider"])
        return self._session

    def run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The source model on ``feed`` (cast to its input dtypes), outputs in the engine's dtypes."""
        wanted = {
            i.name: np.float16 if "float16" in i.type else np.float32 for i in self.session.get_inputs()
        }
        outputs = self.session.run(None, {n: a.astype(wanted[n]) for n, a in feed.items()})
        names = [o.name for o in self.session.get_outputs()]
        return {n: np.asarray(o).astype(self.info.io_dtypes[n]) for n, o in zip(names, outputs, strict=True)}

    def output_shapes(self, shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
        """Output shapes for these input shapes, as the model computes them (cached)."""
        key = tuple(sorted(shapes.items()))
        if key not in self._shapes:
            zeros = {n: np.zeros(s, self.info.io_dtypes[n]) for n, s in shapes.items()}
            self._shapes[key] = {n: a.shape for n, a in self.run(zeros).items()}
        return self._shapes[key]


class Context:
    def __init__(self, engine: Engine) -> None:
        self.engine, self.profile = engine, 0
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.addresses: dict[str, int] = {}

    def set_optimization_profile_async(self, index: int, stream: int) -> bool:
        CALLS.append(("set_optimization_profile_async", index))
        self.profile = index
        return True

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        lo, _, hi = self.engine.info.profiles[self.profile][name]
        CALLS.append(("set_input_shape", name, tuple(shape)))
        self.shapes[name] = tuple(shape)
        return all(a <= s <= b for a, s, b in zip(lo, shape, hi, strict=True))

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        if name in self.engine.info.inputs:
            return self.shapes[name]
        return self.engine.output_shapes(self.shapes)[name]

    def set_tensor_address(self, name: str, ptr: int) -> None:
        self.addresses[name] = ptr

    def execute_async_v3(self, stream: int) -> bool:
        engine, shapes, addresses = self.engine, dict(self.shapes), dict(self.addresses)

        def run() -> None:
            feed = {}
            for name, shape in shapes.items():
                dtype = np.dtype(engine.info.io_dtypes[name])
                raw = FakeCuda.memory[addresses[name]][: int(np.prod(shape)) * dtype.itemsize]
                feed[name] = raw.view(dtype).reshape(shape)
            for name, out in engine.run(feed).items():
                FakeCuda.memory[addresses[name]][: out.nbytes] = out.reshape(-1).view(np.uint8)

        binding = FakeCuda.current
        if binding is not None and stream in binding.capturing:
            binding.capturing[stream].append(run)
        else:
            CALLS.append(("execute_async_v3",))
            run()
        return True


class FakeCuda:
    """Numpy "device" memory; graphs record the enqueued work and replay it."""

    name = "fake"
    memory: ClassVar[dict[int, np.ndarray]] = {}
    current: ClassVar[FakeCuda | None] = None

    def __init__(self, gpu: GpuInfo = A6000) -> None:
        self.gpu, self.ids = gpu, itertools.count(0x1000, 0x1000)
        self.capturing: dict[int, list[Any]] = {}
        self.live: set[int] = set()
        FakeCuda.current = self

    def device_info(self) -> GpuInfo:
        return self.gpu

    def malloc(self, nbytes: int) -> int:
        ptr = next(self.ids)
        FakeCuda.memory[ptr] = np.zeros(nbytes, np.uint8)
        self.live.add(ptr)
        return ptr

    def free(self, ptr: int) -> None:
        self.live.remove(ptr)

    def host_buffer(self, nbytes: int) -> np.ndarray:
        return np.zeros(nbytes, np.uint8)

    def free_host(self, buffer: np.ndarray) -> None:
        pass

    def stream_create(self) -> int:
        return next(self.ids)

    def stream_destroy(self, stream: int) -> None:
        CALLS.append(("stream_destroy", stream))

    def synchronize(self, stream: int) -> None:
        pass

    def copy_htod(self, dst: int, src: np.ndarray, stream: int) -> None:
        FakeCuda.memory[dst][: src.nbytes] = src

    def copy_dtoh(self, dst: np.ndarray, src: int, stream: int) -> None:
        dst[:] = FakeCuda.memory[src][: dst.nbytes]

    def graph_begin(self, stream: int) -> None:
        CALLS.append(("graph_begin",))
        self.capturing[stream] = []

    def graph_end(self, stream: int) -> Any:
        return self.capturing.pop(stream)

    def graph_launch(self, graph: Any, stream: int) -> None:
        CALLS.append(("graph_launch",))
        for op in graph:
            op()

    def graph_destroy(self, graph: Any) -> None:
        CALLS.append(("graph_destroy",))


def module(name: str = "tensorrt_rtx", version: str | None = None) -> Any:
    """A fresh runtime-only stand-in for ``name`` (CALLS cleared), reporting the real version."""
    import types

    CALLS.clear()
    mod = types.ModuleType(name)
    for attr in ("ILogger", "TensorIOMode", "nptype", "Runtime"):
        setattr(mod, attr, globals()[attr])
    mod.__version__ = version or real_version(name)  # type: ignore[attr-defined]
    return mod


def calls(kind: str) -> list[tuple[Any, ...]]:
    """Recorded calls of one kind."""
    return [c for c in CALLS if c[0] == kind]
