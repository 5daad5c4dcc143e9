"""Run a :class:`~.graph.Plan` over horizontal strips: exact statistics, or a thumbnail's.

Exact: segment by segment, every strip (core rows plus the segment's halo) is read from the
stored tensors, run, and its core rows written back; the core rows of each pre-norm tensor
add to float64 per-channel sums, so when the segment is done its norm layers have the
statistics of the whole image, and the next segment can run. Thumbnail: the statistics of a
downscaled copy (URST's "thumbnail instance normalization"), then one pass of the whole
graph per strip with the sum of all halos.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from nst.runtime.tiling.graph import Plan, Segment, TilingError
from nst.runtime.tiling.store import DiskTensor

Feed = dict[str, np.ndarray]
Stats = dict[int, tuple[np.ndarray, np.ndarray]]


def rows_at(scale: Fraction, image_row: int) -> int:
    """Tensor rows covering image rows ``0 .. image_row`` at ``scale`` (ceil, as the graph)."""
    return math.ceil(Fraction(image_row) / scale)


def strips(height: int, rows: int, align: int) -> Iterator[tuple[int, int]]:
    """Core image-row ranges of ``rows`` (a multiple of ``align``) covering ``height``."""
    step = max(align, rows // align * align)
    for start in range(0, height, step):
        yield start, min(height, start + step)


class _Moments:
    """Per-channel float64 sums of a tensor's values (shifted by the first band's mean)."""

    def __init__(self) -> None:
        self.count = 0
        self.shift: np.ndarray | None = None
        self.sum: np.ndarray | None = None
        self.sq: np.ndarray | None = None

    def add(self, band: np.ndarray) -> None:
        """Add a (1, C, n, W) band, one channel at a time (temporaries of one channel only)."""
        channels = band.shape[1]
        if self.shift is None:
            self.shift = np.array([band[0, c].mean(dtype=np.float64) for c in range(channels)], np.float32)
            self.sum, self.sq = np.zeros(channels), np.zeros(channels)
        assert self.sum is not None and self.sq is not None
        for c in range(channels):
            centred = band[0, c] - self.shift[c]
            self.sum[c] += centred.sum(dtype=np.float64)
            self.sq[c] += np.einsum("ij,ij->", centred, centred, dtype=np.float64)
        self.count += band.shape[2] * band.shape[3]

    def mean_var(self) -> tuple[np.ndarray, np.ndarray]:
        assert self.sum is not None and self.sq is not None and self.shift is not None
        m = self.sum / self.count
        var = np.maximum(self.sq / self.count - m * m, 0.0)
        return (m + self.shift).astype(np.float32), var.astype(np.float32)


class StripRunner:
    """Executes a plan with ONNX Runtime sessions, one per segment (made once per model)."""

    def __init__(self, plan: Plan, session: Callable[[bytes], Any]) -> None:
        self.plan = plan
        self.sessions = [session(seg.model) for seg in plan.segments]
        self.global_session = session(plan.global_model) if plan.global_model else None
        self.norm_of = {x: k for k, (x, _) in enumerate(plan.norms)}
        self._full: Any | None = None
        self._make_session = session

    def _globals(self, feed: Feed, stats: Stats) -> Feed:
        out = {n: feed[n] for n in self.plan.global_inputs}
        for k, (_, c) in enumerate(self.plan.norms):
            mean, var = stats.get(k, (np.zeros(c, np.float32), np.ones(c, np.float32)))
            out[f"nst_in_mean_{k}"], out[f"nst_in_var_{k}"] = mean, var
        if self.global_session is not None:
            used = {n: out[n] for n in self.plan.global_inputs_used}
            names = self.plan.globals_needed
            out.update(zip(names, self.global_session.run(names, used), strict=True))
        return out

    def _feed(self, seg: Segment, store: dict[str, DiskTensor], glob: Feed, i0: int, i1: int) -> Feed:
        feed: Feed = {}
        for name in seg.inputs:
            if name in store:
                s = self.plan.scale[name]
                feed[name] = store[name].read_rows(rows_at(s, i0), rows_at(s, i1))
            elif name in self.plan.proxies:
                src, start, end = self.plan.proxies[name]
                s = self.plan.scale[src]
                shape = (1, store[src].channels, rows_at(s, i1) - rows_at(s, i0), store[src].width)
                feed[name] = np.array(shape[start:end], np.int64)
            else:
                feed[name] = glob[name]
        return feed

    def run_exact(
        self, store: dict[str, DiskTensor], feed: Feed, height: int, strip_rows: int, scratch: Path,
        on_strip: Callable[[], None] | None = None,
    ) -> tuple[DiskTensor, Stats]:  # fmt: skip
        """All segments over strips of ``strip_rows`` image rows; returns the output and the stats."""
        plan = self.plan
        stats: Stats = {}
        last_use = {t: i for i, seg in enumerate(plan.segments) for t in seg.inputs}
        last_use.update({plan.proxies[t][0]: i for i, seg in enumerate(plan.segments) for t in seg.inputs
                         if t in plan.proxies})  # fmt: skip
        for index, (seg, sess) in enumerate(zip(plan.segments, self.sessions, strict=True)):
            glob = self._globals(feed, stats)
            moments = {t: _Moments() for t in seg.outputs if t in self.norm_of}
            for c0, c1 in strips(height, strip_rows, plan.align):
                i0, i1 = max(0, c0 - seg.radius), min(height, c1 + seg.radius)
                outs = sess.run(seg.outputs, self._feed(seg, store, glob, i0, i1))
                for name, value in zip(seg.outputs, outs, strict=True):
                    s = plan.scale[name]
                    a, b, lo, hi = rows_at(s, i0), rows_at(s, i1), rows_at(s, c0), rows_at(s, c1)
                    if value.ndim != 4 or value.shape[0] != 1 or value.shape[2] != b - a:
                        raise TilingError(
                            f"cannot tile: {name!r} came out {value.shape}, expected {b - a} rows"
                        )
                    if name not in store:
                        rows = rows_at(s, height)
                        store[name] = DiskTensor(scratch / f"s{index}_{name}.f32", value.shape[1], rows,
                                                 value.shape[3], value.dtype)  # fmt: skip
                    core = value[:, :, lo - a : hi - a]
                    store[name].write_rows(lo, core)
                    if name in moments:
                        moments[name].add(core)
                if on_strip is not None:
                    on_strip()
            for name, m in moments.items():
                stats[self.norm_of[name]] = m.mean_var()
            for t in [t for t in store if last_use.get(t, -1) <= index and t != plan.output]:
                store.pop(t).close()
        return store.pop(plan.output), stats

    def run_with_stats(self, store: dict[str, DiskTensor], feed: Feed, stats: Stats, height: int,
                       strip_rows: int, scratch: Path) -> DiskTensor:  # fmt: skip
        """The whole stats model per strip (halo: the sum of the segments'), statistics given."""
        plan = self.plan
        if self._full is None:
            from nst.runtime.tiling.analyse import sub_model

            graph = plan.stats_model.graph
            made = {o for n in graph.node for o in n.output}
            inits = {i.name for i in graph.initializer}
            inputs = sorted(
                {i for n in graph.node for i in n.input if i and i not in made and i not in inits}
            )
            body = sub_model(plan.stats_model, list(graph.node), inputs, [plan.output], plan.dtypes)
            self._full = (self._make_session(body), inputs)
        sess, inputs = self._full
        whole = Segment(0, inputs, [plan.output], sum(s.radius for s in plan.segments))
        glob = self._globals(feed, stats)
        out: DiskTensor | None = None
        s = plan.scale[plan.output]
        for c0, c1 in strips(height, strip_rows, plan.align):
            i0, i1 = max(0, c0 - whole.radius), min(height, c1 + whole.radius)
            (value,) = sess.run([plan.output], self._feed(whole, store, glob, i0, i1))
            a, lo, hi = rows_at(s, i0), rows_at(s, c0), rows_at(s, c1)
            if out is None:
                out = DiskTensor(
                    scratch / "out.f32", value.shape[1], rows_at(s, height), value.shape[3], value.dtype
                )
            out.write_rows(lo, value[:, :, lo - a : hi - a])
        assert out is not None
        return out


def scratch_dir(base: Path | None = None) -> tempfile.TemporaryDirectory[str]:
    """A private temporary folder for the stored tensors (``TMPDIR`` unless ``base``)."""
    return tempfile.TemporaryDirectory(prefix="nst-tiles-", dir=base)
