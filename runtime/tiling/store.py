"""Disk-backed tensors for tiling: rows in a raw file, read and written with pread/pwrite.

A tensor (1, C, H, W) is stored channel-major, as in memory, so a band of rows of one channel
is one contiguous byte range: a band is read straight into the (1, C, n, W) array ONNX
Runtime takes and written straight from the array it returns, one system call per channel
and no copy. Plain ``os.pread``/``os.pwrite`` (no ``np.memmap``) keep the pages in the
kernel's cache, not in the process: its resident memory stays one strip's worth.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nst.errors import OutputError


class DiskTensor:
    """A (1, C, H, W) array in a file; rows are written once, in any order, and read back."""

    def __init__(self, path: Path, channels: int, height: int, width: int, dtype: np.dtype) -> None:
        self.path, self.channels, self.height, self.width = path, channels, height, width
        self.dtype = np.dtype(dtype)
        self.row_bytes = width * self.dtype.itemsize
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            os.ftruncate(self.fd, self.row_bytes * height * channels)
        except OSError as exc:
            raise OutputError(f"cannot create tiling scratch file {path}: {exc.strerror}") from exc

    def _offset(self, channel: int, row: int) -> int:
        return (channel * self.height + row) * self.row_bytes

    def write_rows(self, start: int, band: np.ndarray) -> None:
        """Store ``band`` (1, C, n, W) as rows ``start .. start + n``."""
        if (
            band.shape[1] != self.channels
            or band.shape[3] != self.width
            or start + band.shape[2] > self.height
        ):
            raise OutputError(f"tiling: band {band.shape} at row {start} does not fit {self.path.name}")
        for c in range(self.channels):
            plane = np.ascontiguousarray(band[0, c], dtype=self.dtype)  # a view when already contiguous
            view, offset, done = memoryview(plane.data).cast("B"), self._offset(c, start), 0
            try:
                while done < len(view):
                    done += os.pwrite(self.fd, view[done:], offset + done)
            except OSError as exc:
                raise OutputError(f"cannot write tiling scratch file {self.path}: {exc.strerror}") from exc

    def read_rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start .. stop`` as a C-contiguous (1, C, n, W) array."""
        out = np.empty((1, self.channels, stop - start, self.width), self.dtype)
        for c in range(self.channels):
            view, offset, done = memoryview(out[0, c].data).cast("B"), self._offset(c, start), 0
            while done < len(view):
                got = os.preadv(self.fd, [view[done:]], offset + done)
                if got == 0:
                    raise OutputError(f"tiling scratch file {self.path} is shorter than expected")
                done += got
        return out

    def read_hwc(self, out: np.ndarray, rows: int, cols: int, chunk: int = 256) -> None:
        """Copy rows ``0 .. rows`` and columns ``0 .. cols`` into ``out`` (rows, cols, C)."""
        for start in range(0, rows, chunk):
            stop = min(rows, start + chunk)
            band = self.read_rows(start, stop)[0]  # (C, n, W)
            out[start:stop] = band[:, :, :cols].transpose(1, 2, 0)

    def close(self) -> None:
        """Close and delete the file (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
            self.path.unlink(missing_ok=True)
