"""TensorRT calibrator logic that needs no TensorRT: batching, device copies, cache I/O."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from nst.calibration.source import ImageFolderSource
from nst.calibration.trt_calibrator import (
    CalibratorCore,
    FixedBatches,
    make_entropy_calibrator,
    read_cache,
    write_cache,
)
from nst.errors import InputError, MissingDependencyError


class FakeDevice:
    """numpy 'device memory' keyed by fake pointers."""

    def __init__(self) -> None:
        self.memory: dict[int, np.ndarray] = {}
        self.freed: list[int] = []
        self.syncs = 0

    def malloc(self, nbytes: int) -> int:
        ptr = 0x1000 * (len(self.memory) + 1)
        self.memory[ptr] = np.zeros(nbytes, np.uint8)
        return ptr

    def free(self, ptr: int) -> None:
        self.freed.append(ptr)

    def copy_htod(self, dst: int, src: np.ndarray, stream: int) -> None:
        self.memory[dst][:] = np.frombuffer(src.tobytes(), np.uint8)

    def synchronize(self, stream: int) -> None:
        self.syncs += 1


def test_fixed_batches_drop_the_partial_last_batch(calib_dir: Path) -> None:
    source = ImageFolderSource(calib_dir, size=16, limit=5)
    batches = list(FixedBatches(source, 2))
    assert len(batches) == len(FixedBatches(source, 2)) == 2
    assert all(b.shape == (2, 3, 16, 16) and b.dtype == np.float32 and b.flags.c_contiguous for b in batches)
    feeds = [f["image"] for f in source]
    np.testing.assert_array_equal(batches[1][0], feeds[2][0])


def test_batch_size_is_checked(calib_dir: Path) -> None:
    source = ImageFolderSource(calib_dir, size=16, limit=3)
    with pytest.raises(InputError, match="exceeds the 3 images"):
        FixedBatches(source, 4)
    with pytest.raises(InputError, match="must be >= 1"):
        FixedBatches(source, 0)


def test_core_copies_batches_to_the_device(calib_dir: Path) -> None:
    source = ImageFolderSource(calib_dir, size=16, limit=4)
    device = FakeDevice()
    core = CalibratorCore(FixedBatches(source, 2), None, device)
    first = core.next_pointers()
    assert first is not None and len(first) == 1
    expected = np.concatenate([f["image"] for f in list(source)[:2]])
    np.testing.assert_array_equal(device.memory[first[0]].view(np.float32).reshape(expected.shape), expected)
    assert core.next_pointers() == first  # same buffer reused for equal-size batches
    assert core.next_pointers() is None and core.served == 2 and device.syncs == 2
    core.close()
    assert device.freed == first


def test_cache_round_trip(tmp_path: Path) -> None:
    cache = tmp_path / "sub" / "calib.cache"
    assert read_cache(cache) is None and read_cache(None) is None
    write_cache(cache, b"TRT-1001-EntropyCalibration2\nimage: 3c010a14\n")
    assert read_cache(cache) == b"TRT-1001-EntropyCalibration2\nimage: 3c010a14\n"
    cache.write_bytes(b"")
    assert read_cache(cache) is None  # an empty file is no cache: TensorRT calibrates again


def test_core_writes_and_reads_its_cache(calib_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "calib.cache"
    core = CalibratorCore(FixedBatches(ImageFolderSource(calib_dir, size=16), 2), cache, FakeDevice())
    assert core.read() is None
    core.write(b"scales")
    assert core.read() == b"scales" and cache.read_bytes() == b"scales"


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed")
def test_without_tensorrt_the_adapter_names_the_extra(calib_dir: Path) -> None:
    with pytest.raises(MissingDependencyError, match=r"pip install 'nst\[trt\]'"):
        make_entropy_calibrator(ImageFolderSource(calib_dir, size=16), None, 2, FakeDevice())


def test_cache_only_core_serves_no_batch(tmp_path: Path) -> None:
    cache = tmp_path / "calib.cache"
    write_cache(cache, b"table")
    core = CalibratorCore((), cache, FakeDevice())
    assert core.next_pointers() is None and core.read() == b"table" and core.served == 0


def test_source_crops_to_a_non_square_shape_keeping_aspect(calib_dir: Path) -> None:
    from nst.calibration.source import cover_crop

    feeds = list(ImageFolderSource(calib_dir, size=(16, 40), limit=2))
    assert [f["image"].shape for f in feeds] == [(1, 3, 16, 40)] * 2
    ramp = np.repeat(np.linspace(0, 1, 100, dtype=np.float32)[None, :, None], 50, axis=0).repeat(3, axis=2)
    crop = cover_crop(ramp, 20, 20)  # 50x100 -> 20x40, centre 20 columns: the ramp's middle, not stretched
    assert crop.shape == (20, 20, 3) and 0.2 < crop[0, 0, 0] < 0.3 and 0.7 < crop[0, -1, 0] < 0.8
