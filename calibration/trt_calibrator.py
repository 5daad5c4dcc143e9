"""A :class:`CalibrationSource` as a TensorRT ``IInt8EntropyCalibrator2`` (implicit INT8).

The explicit path (a QDQ model from :func:`nst.calibration.int8.quantize_int8`) needs no
calibrator: TensorRT reads the scales from the graph. This adapter is for the implicit path,
where TensorRT runs the FP32 network on calibration batches itself and writes a
calibration cache that later builds reuse without data. (TensorRT 10 marks implicit
quantization deprecated in favour of QDQ; it still works and the cache is portable across
builds on the same TensorRT version.)

``tensorrt`` is imported only by :func:`make_entropy_calibrator`. Everything else here (fixed
batches from a source, cache read/write) is plain numpy and is tested without TensorRT.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from nst.artifacts import staged
from nst.calibration.source import CalibrationSource
from nst.errors import CalibrationError, InputError, OutputError, require


class DeviceMemory(Protocol):
    """The device calls the calibrator needs (``nst.runtime.trt.cuda.CudaBackend`` has them)."""

    def malloc(self, nbytes: int) -> int: ...
    def free(self, ptr: int) -> None: ...
    def copy_htod(self, dst: int, src: np.ndarray, stream: int) -> None: ...
    def synchronize(self, stream: int) -> None: ...


class FixedBatches:
    """Stacks the feeds of a source into contiguous (B, 3, H, W) float32 batches.

    TensorRT's calibrator asks for batches of exactly ``get_batch_size()`` images; a last
    partial batch is dropped (TensorRT would read past the end of the device buffer), so
    ``batch_size`` must not exceed the number of images.

    Raises:
        InputError: ``batch_size`` < 1 or larger than the source.
    """

    def __init__(self, source: CalibrationSource, batch_size: int, input_name: str = "image") -> None:
        if batch_size < 1:
            raise InputError(f"calibration batch size must be >= 1, got {batch_size}")
        if batch_size > len(source):
            raise InputError(f"calibration batch size {batch_size} exceeds the {len(source)} images")
        self.source, self.batch_size, self.input_name = source, batch_size, input_name

    def __len__(self) -> int:
        return len(self.source) // self.batch_size

    def __iter__(self) -> Iterator[np.ndarray]:
        pending: list[np.ndarray] = []
        for feed in self.source:
            pending.append(feed[self.input_name])  # (1, 3, H, W)
            if len(pending) == self.batch_size:
                shapes = {p.shape for p in pending}
                if len(shapes) != 1:
                    raise CalibrationError(f"calibration images differ in shape: {sorted(shapes)}")
                yield np.ascontiguousarray(np.concatenate(pending, axis=0), dtype=np.float32)
                pending = []


def read_cache(path: Path | None) -> bytes | None:
    """The cache's bytes, or None when there is none (TensorRT then calibrates)."""
    if path is None or not path.is_file():
        return None
    data = path.read_bytes()
    return data or None  # an empty file is no cache


def write_cache(path: Path, data: bytes) -> None:
    """Write the cache atomically (temp file + rename).

    Raises:
        OutputError: The file cannot be written.
    """
    try:
        with staged(path) as tmp:
            tmp.write_bytes(bytes(data))
    except OSError as exc:
        raise OutputError(f"cannot write calibration cache {path}: {exc}") from exc


class CalibratorCore:
    """What the TensorRT calibrator does, without TensorRT: next batch to device, cache I/O.

    Args:
        batches: Fixed-size host batches (empty: calibrate from the cache alone).
        cache: Calibration cache path (read if present, written after calibrating), or None.
        device: Device memory backend.
    """

    def __init__(self, batches: Iterable[np.ndarray], cache: Path | None, device: DeviceMemory) -> None:
        self.batches, self.cache, self.device = batches, cache, device
        self._it: Iterator[np.ndarray] = iter(batches)
        self._ptr: int | None = None
        self._nbytes = 0
        self.served = 0

    def next_pointers(self) -> list[int] | None:
        """Copy the next batch to the device; its pointer list, or None when done."""
        batch = next(self._it, None)
        if batch is None:
            return None
        if self._ptr is None or batch.nbytes != self._nbytes:
            self.close()
            self._ptr, self._nbytes = self.device.malloc(batch.nbytes), batch.nbytes
        self.device.copy_htod(self._ptr, batch.reshape(-1).view(np.uint8), 0)  # bytes, as CudaBackend takes
        self.device.synchronize(0)
        self.served += 1
        return [self._ptr]

    def read(self) -> bytes | None:
        return read_cache(self.cache)

    def write(self, data: bytes) -> None:
        if self.cache is not None:
            write_cache(self.cache, data)

    def close(self) -> None:
        if self._ptr is not None:
            self.device.free(self._ptr)
            self._ptr = None


def make_entropy_calibrator(
    source: CalibrationSource | None, cache: Path | None, batch_size: int = 8,
    device: DeviceMemory | None = None,
) -> Any:  # fmt: skip
    """A ``tensorrt.IInt8EntropyCalibrator2`` fed from ``source``; the one nst calibrator.

    ``nst calibrate --trt-cache`` (:func:`write_trt_cache`) and ``nst build-engine --int8
    --calib-data/--calib-cache`` (:mod:`nst.runtime.trt.calls`) both use it. ``release()``
    frees its device buffer.

    Args:
        source: Calibration feeds, all the same shape; None to build from ``cache`` alone.
        cache: Calibration cache file: reused when present, written after calibrating.
        batch_size: Images per calibration batch (TensorRT's calibration profile's N).
        device: Device memory; default ``nst.runtime.trt.cuda.make_backend()``.

    Raises:
        MissingDependencyError: TensorRT is not installed (``pip install 'nst[trt]'``).
    """
    trt: Any = require("tensorrt", "trt")
    if device is None:
        from nst.runtime.trt.cuda import make_backend

        device = make_backend()
    batches: Iterable[np.ndarray] = () if source is None else FixedBatches(source, batch_size)
    core = CalibratorCore(batches, cache, device)

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            super().__init__()  # TensorRT's pybind base class must be initialised explicitly
            self.core = core

        def get_batch_size(self) -> int:
            return batch_size

        def get_batch(self, names: list[str]) -> list[int] | None:
            return core.next_pointers()

        def read_calibration_cache(self) -> bytes | None:
            return core.read()

        def write_calibration_cache(self, cache_data: Any) -> None:
            core.write(bytes(cache_data))

        def release(self) -> None:
            core.close()

    return EntropyCalibrator()


def write_trt_cache(
    model: Path, source: CalibrationSource, cache: Path, batch_size: int = 8, *, force: bool = False
) -> Path:
    """Run TensorRT's entropy calibration of the FP32 ``model`` and write its cache.

    Builds an INT8 engine once (discarded) with the calibration profile fixed at the
    source's image shape; TensorRT calls the calibrator's ``write_calibration_cache``.
    Written against the TensorRT 10 Python API; not run here (no GPU in CI).

    Raises:
        MissingDependencyError: TensorRT or the CUDA bindings are not installed.
        OutputExistsError: ``cache`` exists and ``force`` is false.
        CalibrationError: TensorRT cannot parse the model or the build fails.
    """
    from nst.errors import OutputExistsError

    trt: Any = require("tensorrt", "trt")
    if cache.exists() and not force:
        raise OutputExistsError(f"{cache} already exists; use --force to overwrite")
    cache.unlink(missing_ok=True)  # the calibrator would otherwise reuse it instead of calibrating
    first = next(iter(source))
    name, shape = next(iter(first.items()))
    profile_shape = (batch_size, *shape[1:])
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(model).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise CalibrationError(f"TensorRT cannot parse {model}: {errors[:300]}")
    config = builder.create_builder_config()
    config.set_flag(trt.BuilderFlag.INT8)
    profile = builder.create_optimization_profile()
    profile.set_shape(name, profile_shape, profile_shape, profile_shape)
    config.add_optimization_profile(profile)
    config.set_calibration_profile(profile)
    calibrator = make_entropy_calibrator(source, cache, batch_size)
    config.int8_calibrator = calibrator
    try:
        if builder.build_serialized_network(network, config) is None:
            raise CalibrationError("TensorRT INT8 build failed (see the TensorRT log above)")
    finally:
        calibrator.core.close()
    if not cache.is_file():
        raise CalibrationError("TensorRT finished without writing a calibration cache")
    return cache
