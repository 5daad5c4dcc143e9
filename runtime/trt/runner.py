"""TrtRunner: runs a TensorRT engine built by ``nst build-engine``, behind the Runner API.

Loading reads the ``.plan.json`` sidecar, imports the library that built the engine
(``tensorrt`` or ``tensorrt_rtx``, :mod:`nst.runtime.trt.libs`) and checks library, version,
compute capability and GPU against this machine before deserialising (see
:mod:`nst.runtime.trt.sidecar`). Each of ``streams`` slots owns an execution context, a CUDA
stream and grow-only device + pinned host buffers, so threads calling :meth:`infer` at once
run on separate streams. Shapes are set per call and every input must lie inside one of the
engine's profiles (read back from the engine, for every input). Inputs are cast to the
engine's I/O dtypes (float16 for FP16-I/O engines) and outputs back to the model's, with the
shapes the engine reports (an SR engine's output is 4x or 8x its input). With
``cuda_graph=True`` the second call with a given shape captures the enqueue into a CUDA graph
and later calls replay it (TensorRT needs one plain enqueue after a shape change before
capture).

Status: written against the TensorRT 10/11 and TensorRT-RTX runtime APIs and cuda-python;
exercised here only against a fake runtime and a fake CUDA binding, on engines really built
with TensorRT-RTX (docs/GPU.md).
"""

from __future__ import annotations

import dataclasses
import queue
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nst.contract.profiles import Profile, format_shape
from nst.errors import EngineCompatError, InputError, ModelError
from nst.runtime.base import Feed, Runner
from nst.runtime.trt.cuda import CudaBinding, make_binding
from nst.runtime.trt.libs import import_library
from nst.runtime.trt.logger import make_logger, summarize
from nst.runtime.trt.sidecar import Platform, Sidecar, check_compat, read_engine_record

MAX_GRAPHS = 8  # captured shapes kept per stream


@dataclass
class _Slot:
    """One execution context with its stream, buffers and captured graphs."""

    context: Any
    stream: int
    profile: int = 0
    device: dict[str, int] = field(default_factory=dict)
    host: dict[str, np.ndarray] = field(default_factory=dict)
    seen: set[tuple[Any, ...]] = field(default_factory=set)
    graphs: OrderedDict[tuple[Any, ...], Any] = field(default_factory=OrderedDict)
    last_key: tuple[Any, ...] = ()


class TrtRunner(Runner):
    """Runs an nst TensorRT engine (``model.plan`` + ``model.plan.json``).

    Args:
        path: The engine file.
        cuda_binding: ``cuda-python`` (default), ``pycuda``, or a :class:`CudaBinding`.
        device: CUDA device index.
        streams: Execution contexts (and streams) for concurrent callers.
        cuda_graph: Capture and replay CUDA graphs for repeated shapes (cuda-python only).

    Raises:
        ModelError: Missing engine or sidecar, or engine I/O not matching its metadata.
        EngineCompatError: The engine was built with another library or release, for another
            GPU, or its profiles are not the recorded ones.
        MissingDependencyError: The engine's library or the CUDA binding is not installed.
        InputError: Invalid options.
    """

    def __init__(
        self, path: str | Path, *, cuda_binding: str | CudaBinding = "cuda-python", device: int = 0,
        streams: int = 1, cuda_graph: bool = False,
    ) -> None:  # fmt: skip
        self.path = Path(path)
        if streams < 1:
            raise InputError(f"streams must be >= 1, got {streams}")
        if cuda_graph and cuda_binding == "pycuda":
            raise InputError("CUDA graph capture needs the cuda-python binding (--cuda-binding cuda-python)")
        self.sidecar, metadata = read_engine_record(self.path)
        super().__init__(metadata)
        self.cuda_graph = cuda_graph
        self._slots: queue.Queue[_Slot] = queue.Queue()
        self._all: list[_Slot] = []
        lib = import_library(self.sidecar.library)  # the library that built it
        self.binding = make_binding(cuda_binding, device)
        gpu = self.binding.device_info()
        platform = Platform(lib.name, lib.version, gpu.name, gpu.compute_capability)
        check_compat(self.sidecar, platform, self.path)
        trt = lib.module
        self._logger, self._runtime, self.engine = _deserialize(trt, self.path, self.sidecar)
        self.input_profiles = engine_input_profiles(trt, self.engine)
        self.profiles = tuple(p[self.sidecar.input_name] for p in self.input_profiles)
        check_compat(self.sidecar, dataclasses.replace(platform, profiles=self.profiles), self.path)
        self._io = _io_tensors(trt, self.engine)
        self._check_io()
        for _ in range(streams):
            slot = _Slot(self.engine.create_execution_context(), self.binding.stream_create())
            self._all.append(slot)
            self._slots.put(slot)

    @property
    def label(self) -> str:
        """``TensorRT-RTX 1.7.1.116`` etc.: the library running the engine."""
        return self.sidecar.library_label

    def _check_io(self) -> None:
        inputs = [n for n, (is_input, _) in self._io.items() if is_input]
        outputs = [n for n, (is_input, _) in self._io.items() if not is_input]
        declared = ([t.name for t in self.spec.inputs], [t.name for t in self.spec.outputs])
        if (sorted(inputs), sorted(outputs)) != (sorted(declared[0]), sorted(declared[1])):
            raise ModelError(
                f"{self.path}: engine I/O {inputs} -> {outputs} does not match metadata {declared}"
            )
        self.output_names = declared[1]

    def profile_for(self, shapes: Mapping[str, tuple[int, ...]]) -> int:
        """Index of the first profile holding every input's shape (names the engine does not
        take are ignored).

        Raises:
            InputError: Naming the input that fits no profile and that input's profiles.
        """
        for i, profile in enumerate(self.input_profiles):
            if all(profile[n].contains(tuple(s)) for n, s in shapes.items() if n in profile):
                return i
        fits = {n: [i for i, p in enumerate(self.input_profiles) if n in p and p[n].contains(tuple(s))]
                for n, s in shapes.items() if n in self.input_profiles[0]}  # fmt: skip
        misfit = next((n for n, hits in fits.items() if not hits), self.sidecar.input_name)
        listed = " | ".join(p[misfit].describe() for p in self.input_profiles)
        together = "" if not fits.get(misfit, [0]) else " together with the other inputs"
        raise InputError(
            f"{misfit} shape {format_shape(tuple(shapes[misfit]))} is outside every profile of "
            f"{self.path.name} [{listed}]{together}; rebuild it with nst build-engine --min/--opt/--max "
            "covering it"
        )

    def device_loop(self, feed: Feed) -> Callable[[], None]:
        """For benchmarks: stage ``feed`` on the device once; the closure re-runs the engine on
        those buffers (replaying a CUDA graph when enabled) and waits, without host copies.

        Raises:
            InputError: The runner has more than one stream, or no profile holds the whole batch.
        """
        if len(self._all) != 1:
            raise InputError(f"device_loop needs streams=1, this runner has {len(self._all)}")
        self.profile_for({n: a.shape for n, a in feed.items()})  # one profile, no chunking
        self.infer(feed)
        slot = self._all[0]
        key = slot.last_key

        def run() -> None:
            self._enqueue(slot, key)
            self.binding.synchronize(slot.stream)

        return run

    def max_batch(self, shape: tuple[int, ...]) -> int:
        """The largest N of a profile holding ``shape``'s other dims (0 when none does)."""
        return max((p.max[0] for p in self.profiles if p.contains((p.min[0], *shape[1:]))), default=0)

    def _infer(self, feed: Feed) -> Feed:
        if self.engine is None:
            raise ModelError(f"TrtRunner for {self.path.name} is closed")
        shape = tuple(feed[self.sidecar.input_name].shape)
        limit = self.max_batch(shape)
        if 0 < limit < shape[0]:  # more images than any profile's N: run in chunks
            return self._in_chunks(feed, limit)
        index = self.profile_for({n: a.shape for n, a in feed.items()})
        slot = self._slots.get()  # blocks while every stream is busy
        try:
            return self._run(slot, feed, index)
        finally:
            self._slots.put(slot)

    def _in_chunks(self, feed: Feed, limit: int) -> Feed:
        """Split the batch-axis inputs into chunks of ``limit`` images, concatenate the outputs."""
        batched = {t.name for t in self.spec.inputs if t.shape and t.shape[0] == "batch"}
        n = feed[self.sidecar.input_name].shape[0]
        parts = [
            self._infer({k: v[i : i + limit] if k in batched else v for k, v in feed.items()})
            for i in range(0, n, limit)
        ]
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    def _run(self, slot: _Slot, feed: Feed, index: int) -> Feed:
        ctx = slot.context
        if slot.profile != index:
            ctx.set_optimization_profile_async(index, slot.stream)
            slot.profile = index
        arrays = {n: np.ascontiguousarray(feed[n], dtype=self._io[n][1]) for n in feed}
        for name, array in arrays.items():
            if not ctx.set_input_shape(name, array.shape):
                raise InputError(f"TensorRT rejected shape {format_shape(array.shape)} for input {name!r}")
        shapes = {n: tuple(ctx.get_tensor_shape(n)) for n in self.output_names}
        grown = [self._ensure(slot, n, a.nbytes) for n, a in arrays.items()]
        grown += [self._ensure(slot, n, _nbytes(s, self._io[n][1])) for n, s in shapes.items()]
        if any(grown):  # captured graphs hold the old addresses
            self._drop_graphs(slot)
        for name, array in arrays.items():
            host = slot.host[name][: array.nbytes]
            host[:] = array.reshape(-1).view(np.uint8)
            self.binding.copy_htod(slot.device[name], host, slot.stream)
        for name, ptr in slot.device.items():
            ctx.set_tensor_address(name, ptr)
        slot.last_key = (index, *((n, a.shape) for n, a in sorted(arrays.items())))
        self._enqueue(slot, slot.last_key)
        outputs = {}
        for name, shape in shapes.items():
            dtype = self._io[name][1]
            host = slot.host[name][: _nbytes(shape, dtype)]
            self.binding.copy_dtoh(host, slot.device[name], slot.stream)
            outputs[name] = host
        self.binding.synchronize(slot.stream)
        spec_dtype = {t.name: np.dtype(t.dtype) for t in self.spec.outputs}
        return {
            n: h.view(self._io[n][1]).reshape(shapes[n]).astype(spec_dtype[n]) for n, h in outputs.items()
        }

    def _enqueue(self, slot: _Slot, key: tuple[Any, ...]) -> None:
        graph = slot.graphs.get(key) if self.cuda_graph else None
        if graph is None and self.cuda_graph and key in slot.seen:
            graph = self._capture(slot)
            slot.graphs[key] = graph
            while len(slot.graphs) > MAX_GRAPHS:
                self.binding.graph_destroy(slot.graphs.popitem(last=False)[1])
        if graph is not None:
            self.binding.graph_launch(graph, slot.stream)
            return
        if not slot.context.execute_async_v3(slot.stream):
            raise ModelError(f"TensorRT failed to enqueue {self.path.name} (see the nst.trt log)")
        if self.cuda_graph:
            slot.seen.add(key)

    def _capture(self, slot: _Slot) -> Any:
        self.binding.graph_begin(slot.stream)
        try:
            ok = slot.context.execute_async_v3(slot.stream)
        finally:
            graph = self.binding.graph_end(slot.stream)
        if not ok:
            self.binding.graph_destroy(graph)
            raise ModelError(f"CUDA graph capture of {self.path.name} failed; run without cuda_graph")
        return graph

    def _ensure(self, slot: _Slot, name: str, nbytes: int) -> bool:
        if name in slot.host and slot.host[name].nbytes >= nbytes:
            return False
        if name in slot.device:
            self.binding.free(slot.device.pop(name))
            self.binding.free_host(slot.host.pop(name))
        slot.device[name] = self.binding.malloc(nbytes)
        slot.host[name] = self.binding.host_buffer(nbytes)
        return True

    def _drop_graphs(self, slot: _Slot) -> None:
        for graph in slot.graphs.values():
            self.binding.graph_destroy(graph)
        slot.graphs.clear()
        slot.seen.clear()

    def close(self) -> None:
        """Free graphs, buffers, streams and contexts (idempotent)."""
        for slot in self._all:
            self._drop_graphs(slot)
            for name in list(slot.device):
                self.binding.free(slot.device.pop(name))
                self.binding.free_host(slot.host.pop(name))
            self.binding.stream_destroy(slot.stream)
            slot.context = None  # contexts go before their engine
        self._all.clear()
        self.engine = self._runtime = None


def _nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return int(np.prod(shape)) * dtype.itemsize


def _deserialize(trt: Any, path: Path, sidecar: Sidecar) -> tuple[Any, Any, Any]:
    """(logger, runtime, engine): TensorRT keeps raw pointers to the first two, so they must live on."""
    logger = make_logger(trt)
    runtime = trt.Runtime(logger)
    if sidecar.version_compatible:
        runtime.engine_host_code_allowed = True  # version-compatible engines embed their lean runtime
    engine = runtime.deserialize_cuda_engine(path.read_bytes())
    if engine is None:
        raise EngineCompatError(
            f"{sidecar.library_label} cannot load {path}: {summarize(logger.errors, limit=2)}; "
            f"rebuild it with: {sidecar.build_command}"
        )
    return logger, runtime, engine


def engine_input_profiles(trt: Any, engine: Any) -> tuple[dict[str, Profile], ...]:
    """Every input's min/opt/max in each profile stored in a deserialised engine."""
    inputs = [
        name for name in (engine.get_tensor_name(i) for i in range(engine.num_io_tensors))
        if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
    ]  # fmt: skip
    out = []
    for i in range(engine.num_optimization_profiles):
        shapes = {n: engine.get_tensor_profile_shape(n, i) for n in inputs}
        out.append({n: Profile(tuple(lo), tuple(opt), tuple(hi)) for n, (lo, opt, hi) in shapes.items()})
    return tuple(out)


def _io_tensors(trt: Any, engine: Any) -> dict[str, tuple[bool, np.dtype]]:
    io = {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        io[name] = (is_input, np.dtype(trt.nptype(engine.get_tensor_dtype(name))))
    return io
