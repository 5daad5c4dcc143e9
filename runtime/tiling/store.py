"""Disk-backed tensors for tiling: rows in a raw file, read and written with pread/pwrite.

A tensor (1, C, H, W) is stored row-major as (H, C, W), so any band of rows is one
contiguous byte range. Plain ``os.pread``/``os.pwrite`` (no ``np.memmap``) keep the pages in
the kernel's cache, not in the process: its resident memory stays one strip's worth.
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
        self.row_bytes = channels * width * self.dtype.itemsize
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            os.ftruncate(self.fd, self.row_bytes * height)
        except OSError as exc:
            raise OutputError(f"cannot create tiling scratch file {path}: {exc.strerror}") from exc

    def write_rows(self, start: int, band: np.ndarray) -> None:
        """Store ``band`` (1, C, n, W) as rows ``start .. start + n``."""
        rows = np.ascontiguousarray(band[0].transpose(1, 0, 2), dtype=self.dtype)  # (n, C, W)
        if rows.shape[1:] != (self.channels, self.width) or start + rows.shape[0] > self.height:
            raise OutputError(f"tiling: band {band.shape} at row {start} does not fit {self.path.name}")
        view = memoryview(rows.data).cast("B")
        offset, done = start * self.row_bytes, 0
        try:
            while done < len(view):
                done += os.pwrite(self.fd, view[done:], offset + done)
        except OSError as exc:
            raise OutputError(f"cannot write tiling scratch file {self.path}: {exc.strerror}") from exc

    def read_rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start .. stop`` as a C-contiguous (1, C, n, W) array."""
        n = stop - start
        buf = np.empty((n, self.channels, self.width), self.dtype)
        view = memoryview(buf.data).cast("B")
        offset, done = start * self.row_bytes, 0
        while done < len(view):
            got = os.preadv(self.fd, [view[done:]], offset + done)
            if got == 0:
                raise OutputError(f"tiling scratch file {self.path} is shorter than expected")
            done += got
        return np.ascontiguousarray(buf.transpose(1, 0, 2))[None]

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
