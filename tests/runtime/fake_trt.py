"""A recording fake of the TensorRT 10 Python API and a numpy "CUDA" backend, for tests.

Only the calls nst makes exist. ``CALLS`` records them in order, so tests check the sequence
(profiles with the right shapes, flags, precision constraints, timing cache). The "engine" is
JSON of the profiles and I/O names; its context computes ``1 - x`` on fake device memory.
Install with ``monkeypatch.setitem(sys.modules, "tensorrt", fake_trt.module())``.
"""

from __future__ import annotations

import enum
import itertools
import json
import types
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from nst.runtime.trt.cuda import GpuInfo

CALLS: list[tuple[Any, ...]] = []
H100 = GpuInfo("NVIDIA H100 80GB HBM3", "9.0")
VERSION = "10.3.0.26"
ENGINE_MAGIC = b"FAKEPLAN"
LAYER_TYPES = {"InstanceNormalization": "NORMALIZATION", "ReduceMean": "REDUCE", "Conv": "CONVOLUTION"}


class Severity(enum.Enum):
    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


class ILogger:
    Severity = Severity

    def __init__(self) -> None:
        pass


class IProgressMonitor:
    def __init__(self) -> None:
        pass


class IInt8EntropyCalibrator2:
    def __init__(self) -> None:
        pass


LayerType = enum.Enum("LayerType", ["NORMALIZATION", "REDUCE", "CONVOLUTION", "PLUGIN_V2", "ACTIVATION"])
BuilderFlag = enum.Enum(
    "BuilderFlag",
    ["FP16", "INT8", "OBEY_PRECISION_CONSTRAINTS", "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME"],
)
MemoryPoolType = enum.Enum("MemoryPoolType", ["WORKSPACE"])
TensorIOMode = enum.Enum("TensorIOMode", ["INPUT", "OUTPUT"])
float32, float16 = "float32", "float16"


def nptype(dtype: str) -> type:
    return {"float32": np.float32, "float16": np.float16}[dtype]


class Layer:
    def __init__(self, name: str, kind: Any) -> None:
        self.name, self.type, self.num_outputs = name, kind, 1

    def __setattr__(self, key: str, value: Any) -> None:
        if key in ("precision", "compute_precision"):
            CALLS.append((key, self.name, value))
        object.__setattr__(self, key, value)

    def set_output_type(self, index: int, dtype: str) -> None:
        CALLS.append(("set_output_type", self.name, index, dtype))


class INormalizationLayer(Layer):
    """The downcast target; subclassing keeps the recording ``__setattr__``."""


class Network:
    def __init__(self) -> None:
        self.inputs: list[types.SimpleNamespace] = []
        self.layers: list[Layer] = []
        self.outputs: list[str] = []

    num_inputs = property(lambda self: len(self.inputs))
    num_layers = property(lambda self: len(self.layers))

    def get_input(self, i: int) -> Any:
        return self.inputs[i]

    def get_layer(self, i: int) -> Layer:
        return self.layers[i]


class OnnxParser:
    def __init__(self, network: Network, logger: Any) -> None:
        self.network = network
        self.errors: list[str] = []

    def parse_from_file(self, path: str) -> bool:
        import onnx

        CALLS.append(("parse_from_file", path))
        graph = onnx.load(path).graph
        for node in graph.node:
            if node.op_type == "Unsupported":
                self.errors.append(f"node {node.name}: no importer for op Unsupported")
            kind = LayerType[LAYER_TYPES.get(node.op_type, "ACTIVATION")]
            self.network.layers.append(Layer(node.name or node.op_type, kind))
        self.network.inputs = [types.SimpleNamespace(name=i.name) for i in graph.input]
        self.network.outputs = [o.name for o in graph.output]
        return not self.errors

    num_errors = property(lambda self: len(self.errors))

    def get_error(self, i: int) -> str:
        return self.errors[i]


class Profile:
    def __init__(self) -> None:
        self.shapes: dict[str, list[list[int]]] = {}

    def set_shape(self, name: str, lo: Any, opt: Any, hi: Any) -> None:
        CALLS.append(("set_shape", name, tuple(lo), tuple(opt), tuple(hi)))
        self.shapes[name] = [list(lo), list(opt), list(hi)]


class TimingCache:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def serialize(self) -> bytes:
        return self.data + b"+tactics"


class BuilderConfig:
    def __init__(self) -> None:
        self.profiles: list[Profile] = []
        self.flags: set[Any] = set()
        self.int8_calibrator: Any = None
        self.progress_monitor: Any = None
        self.cache: TimingCache | None = None

    def set_flag(self, flag: Any) -> None:
        CALLS.append(("set_flag", flag.name))
        self.flags.add(flag)

    def set_memory_pool_limit(self, pool: Any, size: int) -> None:
        CALLS.append(("set_memory_pool_limit", pool.name, size))

    def add_optimization_profile(self, profile: Profile) -> int:
        self.profiles.append(profile)
        return len(self.profiles) - 1

    def set_calibration_profile(self, profile: Profile) -> None:
        CALLS.append(("set_calibration_profile", self.profiles.index(profile)))

    def create_timing_cache(self, data: bytes) -> TimingCache:
        CALLS.append(("create_timing_cache", bytes(data)))
        return TimingCache(bytes(data))

    def set_timing_cache(self, cache: TimingCache, ignore_mismatch: bool) -> bool:
        self.cache = cache
        return cache.data != b"MISMATCH"

    def get_timing_cache(self) -> TimingCache | None:
        return self.cache


class Builder:
    fail = False

    def __init__(self, logger: Any) -> None:
        self.logger = logger

    def create_network(self, flags: int) -> Network:
        CALLS.append(("create_network", flags))
        return Network()

    def create_builder_config(self) -> BuilderConfig:
        return BuilderConfig()

    def create_optimization_profile(self) -> Profile:
        return Profile()

    def build_serialized_network(self, network: Network, config: BuilderConfig) -> bytes | None:
        CALLS.append(("build_serialized_network",))
        if config.progress_monitor is not None:
            config.progress_monitor.phase_start("Building engine", None, 3)
            config.progress_monitor.phase_start("Tactic selection", "Building engine", 10)
        if config.int8_calibrator is not None:
            _calibrate(config.int8_calibrator, [i.name for i in network.inputs])
        if Builder.fail:
            self.logger.log(Severity.ERROR, "out of tactics for layer conv1")
            return None
        body = {"inputs": [i.name for i in network.inputs], "outputs": network.outputs,
                "profiles": [p.shapes for p in config.profiles]}  # fmt: skip
        return ENGINE_MAGIC + json.dumps(body).encode()


def _calibrate(calibrator: Any, names: list[str]) -> None:
    cached = calibrator.read_calibration_cache()
    if cached is None:
        while (ptrs := calibrator.get_batch(names)) is not None:
            CALLS.append(("calibration_batch", calibrator.get_batch_size(), len(ptrs)))
        calibrator.write_calibration_cache(b"calibration-table")
    else:
        CALLS.append(("calibration_cache_read", bytes(cached)))


class Runtime:
    def __init__(self, logger: Any) -> None:
        self.logger = logger
        self.engine_host_code_allowed = False

    def deserialize_cuda_engine(self, data: bytes) -> Engine | None:
        CALLS.append(("deserialize_cuda_engine", self.engine_host_code_allowed))
        if not data.startswith(ENGINE_MAGIC):
            self.logger.log(Severity.ERROR, "Serialization assertion magicTagRead == kMAGIC_TAG failed")
            return None
        return Engine(json.loads(data[len(ENGINE_MAGIC) :]))


class Engine:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.names = body["inputs"] + body["outputs"]

    num_io_tensors = property(lambda self: len(self.names))
    num_optimization_profiles = property(lambda self: len(self.body["profiles"]))

    def get_tensor_name(self, i: int) -> str:
        return self.names[i]

    def get_tensor_mode(self, name: str) -> Any:
        return TensorIOMode.INPUT if name in self.body["inputs"] else TensorIOMode.OUTPUT

    def get_tensor_dtype(self, name: str) -> str:
        return float32

    def get_tensor_profile_shape(self, name: str, index: int) -> list[list[int]]:
        return self.body["profiles"][index][name]

    def create_execution_context(self) -> Context:
        return Context(self)


class Context:
    def __init__(self, engine: Engine) -> None:
        self.engine, self.shapes, self.addresses, self.profile = engine, {}, {}, 0  # type: ignore[var-annotated]

    def set_optimization_profile_async(self, index: int, stream: int) -> bool:
        CALLS.append(("set_optimization_profile_async", index))
        self.profile = index
        return True

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        lo, _, hi = self.engine.body["profiles"][self.profile][name]
        CALLS.append(("set_input_shape", name, tuple(shape)))
        self.shapes[name] = tuple(shape)
        return all(a <= s <= b for a, s, b in zip(lo, shape, hi, strict=True))

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return self.shapes[self.engine.body["inputs"][0]]

    def set_tensor_address(self, name: str, ptr: int) -> None:
        self.addresses[name] = ptr

    def execute_async_v3(self, stream: int) -> bool:
        src, dst = (
            self.addresses[self.engine.body["inputs"][0]],
            self.addresses[self.engine.body["outputs"][0]],
        )
        n = int(np.prod(self.get_tensor_shape(""))) * 4

        def run() -> None:
            x = FakeCuda.memory[src][:n].view(np.float32)
            FakeCuda.memory[dst][:n] = (1.0 - x).view(np.uint8)

        backend = FakeCuda.current
        if backend is not None and stream in backend.capturing:
            backend.capturing[stream].append(run)
        else:
            CALLS.append(("execute_async_v3",))
            run()
        return True


class FakeCuda:
    """Numpy "device" memory; graphs record the enqueued work and replay it."""

    name = "fake"
    memory: ClassVar[dict[int, np.ndarray]] = {}
    current: ClassVar[FakeCuda | None] = None

    def __init__(self, gpu: GpuInfo = H100) -> None:
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


def module() -> types.ModuleType:
    """A fresh ``tensorrt`` stand-in (CALLS cleared)."""
    CALLS.clear()
    Builder.fail = False
    mod = types.ModuleType("tensorrt")
    names = ["ILogger", "IProgressMonitor", "IInt8EntropyCalibrator2", "LayerType", "BuilderFlag",
             "MemoryPoolType", "TensorIOMode", "float32", "float16", "INormalizationLayer", "nptype",
             "OnnxParser", "Builder", "Runtime"]  # fmt: skip
    for name in names:
        setattr(mod, name, globals()[name])
    mod.__version__ = VERSION  # type: ignore[attr-defined]
    return mod


def calls(kind: str) -> list[tuple[Any, ...]]:
    """Recorded calls of one kind."""
    return [c for c in CALLS if c[0] == kind]


def write_plan(path: Path, body: dict[str, Any]) -> None:
    path.write_bytes(ENGINE_MAGIC + json.dumps(body).encode())
