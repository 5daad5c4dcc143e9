"""Exact tiling: stylize images of any size in bounded memory, with whole-image norm statistics.

    >>> from nst.runtime.tiling import TiledModel
    >>> tiled = TiledModel("model.onnx", spec, make_feed)      # analyses the graph once
    >>> rgb = tiled.stylize(feed, strip_rows=512)              # (H, W, 3) float32

See docs/TILING.md for the design (:mod:`.graph`, :mod:`.analyse`, :mod:`.run`), the cost
and the memory model (:mod:`.memory`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nst.contract.spec import ExportSpec
from nst.runtime.tiling.graph import TilingError, onnx_module, stats_model
from nst.runtime.tiling.memory import MemoryBudgetError, TileSetting, parse_memory
from nst.runtime.tiling.run import StripRunner, scratch_dir
from nst.runtime.tiling.store import DiskTensor

__all__ = [
    "STATS_MODES",
    "MemoryBudgetError",
    "TileSetting",
    "TiledModel",
    "TilingError",
    "export_stats_model",
    "parse_memory",
]

STATS_MODES = ("exact", "thumbnail")
THUMBNAIL_PIXELS = 1_000_000
Feed = dict[str, np.ndarray]


def ort_session(providers: list[str] | None = None, threads: int = 0) -> Callable[[bytes], Any]:
    """bytes -> InferenceSession without ORT's memory arena (freed tensors go back to the OS)."""
    import onnxruntime as ort

    def make(model: bytes) -> Any:
        options = ort.SessionOptions()
        options.enable_cpu_mem_arena = False
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        return ort.InferenceSession(
            model, sess_options=options, providers=providers or ["CPUExecutionProvider"]
        )

    return make


class TiledModel:
    """An nst ONNX model analysed for strip-wise runs (see the module docstring).

    Args:
        path: The ``.onnx`` model.
        spec: Its I/O contract (``runner.spec``).
        make_feed: (height, width) -> a valid feed of every model input (for the probe).
        providers: ONNX Runtime providers.

    Raises:
        TilingError: The graph cannot run in strips (the op is named), or it has a batch of
            style masks that vary over the image.
    """

    def __init__(self, path: str | Path, spec: ExportSpec, make_feed: Callable[[int, int], Feed],
                 providers: list[str] | None = None) -> None:  # fmt: skip
        from nst.runtime.tiling.analyse import analyse

        onnx = onnx_module()
        self.path, self.spec = Path(path), spec
        self.strip_inputs = [t.name for t in spec.inputs if _follows_image(t.shape, spec)]
        if spec.pad_multiple > 1 and self.strip_inputs != [spec.inputs[0].name]:
            raise TilingError(
                f"cannot tile {spec.family}: inputs {self.strip_inputs} follow the image and it pads"
            )
        session = ort_session(providers)
        model = onnx.load(str(self.path))
        self.plan = analyse(model, self.strip_inputs, make_feed, spec.pad_multiple, session)
        self.runner = StripRunner(self.plan, session)

    @property
    def max_halo(self) -> int:
        return max(s.radius for s in self.plan.segments)

    @property
    def strip_bytes_per_pixel(self) -> float:
        """Working set of the heaviest segment per image pixel of a strip."""
        return max(s.bytes_per_pixel for s in self.plan.segments)

    def stylize(self, feed: Feed, *, strip_rows: int, stats: str = "exact", scratch: Path | None = None,
                on_strip: Callable[[], None] | None = None) -> np.ndarray:  # fmt: skip
        """Run one image (batch 1) in strips of ``strip_rows`` image rows.

        Args:
            feed: Every model input for the full image; the image is (1, 3, H, W).
            strip_rows: Core rows per strip (rounded down to the plan's alignment).
            stats: ``exact`` (whole-image statistics) or ``thumbnail``.
            scratch: Folder for the stored tensors (default: the system's temp folder).
            on_strip: Called after each strip (progress).

        Returns:
            The output as (H_out, W_out, C) float32.
        """
        if stats not in STATS_MODES:
            raise TilingError(f"unknown tile statistics {stats!r}; choose one of {', '.join(STATS_MODES)}")
        image = feed[self.spec.inputs[0].name]
        if image.shape[0] != 1:
            raise TilingError(f"tiling runs one image at a time, got a batch of {image.shape[0]}")
        _check_masks(feed)
        height, width = image.shape[2:]
        pad_h, pad_w = (-height % self.spec.pad_multiple, -width % self.spec.pad_multiple)
        with scratch_dir(scratch) as tmp:
            folder = Path(tmp)
            stats_values = self.thumbnail_stats(feed, folder) if stats == "thumbnail" else None
            store = self._store(feed, folder, pad_h, pad_w)
            try:
                padded_h = height + pad_h
                if stats_values is None:
                    out, _ = self.runner.run_exact(store, feed, padded_h, strip_rows, folder, on_strip)
                else:
                    out = self.runner.run_with_stats(store, feed, stats_values, padded_h, strip_rows, folder)
                s = self.plan.scale[self.plan.output]
                rows, cols = math.ceil(height / s), math.ceil(width / s)
                result = np.empty((rows, cols, out.channels), out.dtype)
                out.read_hwc(result, rows, cols)
                out.close()
            finally:
                for tensor in store.values():
                    tensor.close()
        return result

    def thumbnail_stats(self, feed: Feed, folder: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Norm statistics of the image box-downscaled to about a megapixel."""
        name = self.spec.inputs[0].name
        image = feed[name]
        factor = max(1, math.ceil(math.sqrt(image.shape[2] * image.shape[3] / THUMBNAIL_PIXELS)))
        h, w = image.shape[2] // factor, image.shape[3] // factor
        small = np.zeros((1, image.shape[1], h, w), np.float32)
        for i in range(factor):  # a box filter from strided views: no full-size temporary
            for j in range(factor):
                small += image[:, :, i : h * factor : factor, j : w * factor : factor]
        small /= factor * factor
        if len(self.strip_inputs) > 1:
            raise TilingError(f"thumbnail statistics take the image alone, not {self.strip_inputs}")
        thumb = {**feed, name: np.ascontiguousarray(small, np.float32)}
        pad_h, pad_w = (-h % self.spec.pad_multiple, -w % self.spec.pad_multiple)
        store = self._store(thumb, folder, pad_h, pad_w)
        out, stats = self.runner.run_exact(store, thumb, h + pad_h, h + pad_h, folder)
        out.close()
        for tensor in store.values():
            tensor.close()
        return stats

    def _store(self, feed: Feed, folder: Path, pad_h: int, pad_w: int) -> dict[str, DiskTensor]:
        """Write the strip inputs to scratch files, reflect-padded as the graph pads (in bands)."""
        store: dict[str, DiskTensor] = {}
        for i, name in enumerate(self.strip_inputs):
            array = feed[name]  # may be a strided view (the Stylizer passes the HWC photo transposed)
            _, channels, height, width = array.shape
            tensor = DiskTensor(folder / f"in{i}.f32", channels, height + pad_h, width + pad_w, np.float32)
            store[name] = tensor
            for start in range(0, height, 256):
                tensor.write_rows(start, _pad_width(array[:, :, start : start + 256], pad_w))
            if pad_h:  # rows H .. H+pad_h mirror H-2, H-3, ... (ONNX/numpy "reflect")
                tensor.write_rows(
                    height, _pad_width(array[:, :, height - 1 - pad_h : height - 1][:, :, ::-1], pad_w)
                )
        return store


def _pad_width(band: np.ndarray, pad_w: int) -> np.ndarray:
    band = band.astype(np.float32, copy=False)
    return np.pad(band, ((0, 0), (0, 0), (0, 0), (0, pad_w)), mode="reflect") if pad_w else band


def _follows_image(shape: tuple[object, ...], spec: ExportSpec) -> bool:
    if len(shape) != 4:
        return False
    rows = shape[2]
    return rows == "height" or (isinstance(rows, str) and rows in spec.axis_scales)


def _check_masks(feed: Feed) -> None:
    masks = feed.get("style_masks")
    if masks is not None and not np.all(masks == masks[:, :, :1, :1]):
        raise TilingError("tiling cannot apply region masks (--mask); run without tiling (--tile off)")


def export_stats_model(source: str | Path, target: str | Path, *, force: bool = False) -> Path:
    """Write the variant of ``source`` whose InstanceNorm layers take mean/variance as inputs.

    Norm layer ``k`` reads ``nst_in_mean_k`` and ``nst_in_var_k`` ([C] float32); the file keeps
    the source's metadata plus ``nst.variant = instance-norm-stats``. Same convolutions as the
    source; each norm's reductions become three elementwise ops.

    Raises:
        OutputExistsError: ``target`` exists and ``force`` is false.
        TilingError: A norm layer with non-constant scale/bias.
    """
    from nst.artifacts import check_targets, staged

    onnx = onnx_module()
    (dest,) = check_targets([Path(target)], force=force)
    model = onnx.load(str(source))
    rewritten, norms = stats_model(model)
    if not norms:
        raise TilingError(f"{source} has no InstanceNormalization layer")
    entry = rewritten.metadata_props.add()
    entry.key, entry.value = "nst.variant", "instance-norm-stats"
    with staged(dest) as tmp:
        onnx.save(rewritten, str(tmp))
    return dest
