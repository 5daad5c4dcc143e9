"""Activation ranges for symmetric INT8: one threshold ``T`` per tensor, scale ``T / 127``.

TensorRT's INT8 is symmetric (zero point 0), so a range is a single magnitude. The tensors
are added as extra graph outputs and the calibration feeds run through ONNX Runtime (CPU);
numpy does the statistics. Histograms leave out exact zeros (ReLU outputs, padding): they
quantize to 0 at any scale, and a spike of them in the first bin would drag the entropy
search towards tiny thresholds.

* ``minmax``: ``T = max |x|`` over every feed (one pass);
* ``percentile``: the :data:`PERCENTILE` th percentile of ``|x|`` (two passes: the maximum,
  then a :data:`HISTOGRAM_BINS`-bin histogram of ``|x|`` on [0, max]);
* ``entropy``: TensorRT's KL-divergence threshold on the same histogram with
  :data:`ENTROPY_BINS` bins into 128 quantized levels (Migacz, "8-bit Inference with
  TensorRT", GTC 2017).

Ranges are saved as JSON (``{"method": ..., "thresholds": {tensor: T}}``) so a sweep
calibrates once and quantizes many variants.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nst.calibration.artifact import cpu_session
from nst.calibration.source import CalibrationMethod, Feed
from nst.errors import CalibrationError

PERCENTILE = 99.999
HISTOGRAM_BINS = 2048
#: Histogram bins of entropy calibration (TensorRT's 2048; Migacz 2017).
ENTROPY_BINS = 2048
QUANT_LEVELS = 128  # |x| maps onto 0..127


def collect_thresholds(
    model: Any, tensors: Sequence[str], feeds: Iterable[Feed], method: CalibrationMethod,
    on_feed: Callable[[], None] | None = None, *, entropy_bins: int = ENTROPY_BINS,
) -> dict[str, float]:  # fmt: skip
    """Threshold ``T`` of every tensor in ``tensors`` from running ``feeds`` through ``model``.

    Args:
        model: An ``onnx.ModelProto`` (not modified).
        tensors: Float tensors of the graph to calibrate.
        feeds: Complete model feeds; iterated twice for ``percentile`` and ``entropy``.
        method: How a threshold is chosen from the observed values.
        on_feed: Called once per feed of the first pass (progress bars).
        entropy_bins: Histogram bins of the entropy search.

    Returns:
        tensor -> threshold (>= 0; 0 where the tensor was always zero).

    Raises:
        CalibrationError: No feeds, ORT fails, or a tensor holds NaN or infinity.
    """
    names = list(dict.fromkeys(tensors))
    with tempfile.TemporaryDirectory(prefix="nst-ranges-") as tmp:
        session = cpu_session(_augmented(model, names, Path(tmp) / "augmented.onnx"))
        amax = {n: 0.0 for n in names}
        count = 0
        for values in _outputs(session, names, feeds):
            count += 1
            for name, x in values.items():
                if not np.isfinite(x).all():
                    raise CalibrationError(f"tensor {name!r} holds NaN or infinity on a calibration feed")
                amax[name] = max(amax[name], float(np.abs(x).max(initial=0.0)))
            if on_feed is not None:
                on_feed()
        if count == 0:
            raise CalibrationError("the calibration source has no feeds")
        if CalibrationMethod(method) is CalibrationMethod.MINMAX:
            return amax
        bins = entropy_bins if method is CalibrationMethod.ENTROPY else HISTOGRAM_BINS
        hist = {n: np.zeros(bins, np.int64) for n in names}
        for values in _outputs(session, names, feeds):
            for name, x in values.items():
                if amax[name] > 0:
                    magnitude = np.abs(x[x != 0])  # exact zeros (ReLU, padding) are 0 at any scale
                    hist[name] += np.histogram(magnitude, bins=bins, range=(0.0, amax[name]))[0]
    pick = entropy_threshold if method is CalibrationMethod.ENTROPY else percentile_threshold
    return {n: pick(hist[n], amax[n]) if amax[n] > 0 else 0.0 for n in names}


def _augmented(model: Any, names: Sequence[str], path: Path) -> Path:
    """``model`` with ``names`` as extra float outputs, saved to ``path``."""
    import onnx

    proto = onnx.ModelProto()
    proto.CopyFrom(model)
    present = {o.name for o in proto.graph.output}
    for name in names:
        if name not in present:
            proto.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    onnx.save_model(proto, str(path))
    return path


def _outputs(session: Any, names: list[str], feeds: Iterable[Feed]) -> Iterable[dict[str, np.ndarray]]:
    for feed in feeds:
        try:
            values = session.run(names, feed)
        except Exception as exc:  # ORT raises InvalidArgument, Fail, ...
            raise CalibrationError(f"INT8 calibration failed: {str(exc).splitlines()[0][:200]}") from exc
        yield dict(zip(names, values, strict=True))


def percentile_threshold(hist: np.ndarray, amax: float, percentile: float = PERCENTILE) -> float:
    """Upper edge of the bin where the cumulative share of ``|x|`` reaches ``percentile``."""
    cdf = np.cumsum(hist) / max(int(hist.sum()), 1)
    index = int(np.searchsorted(cdf, percentile / 100.0))
    return amax * min(index + 1, len(hist)) / len(hist)


def entropy_threshold(hist: np.ndarray, amax: float) -> float:
    """TensorRT's threshold: the clip point whose 128-level quantization keeps the histogram of
    ``|x|`` closest in KL divergence (clipped mass goes to the last kept bin)."""
    bins = len(hist)
    if bins <= QUANT_LEVELS:
        return amax
    h = hist.astype(np.float64)
    best, best_i = np.inf, bins
    for i in range(QUANT_LEVELS, bins + 1):
        p = h[:i].copy()
        p[-1] += h[i:].sum()  # outliers clipped into the last bin
        divergence = _kl(p, _quantized(h[:i], p > 0, QUANT_LEVELS))
        if divergence < best:
            best, best_i = divergence, i
    return amax * best_i / bins


def _quantized(h: np.ndarray, nonzero: np.ndarray, levels: int) -> np.ndarray:
    """``h`` merged into ``levels`` chunks of ``len(h) // levels`` bins (the last takes the
    remainder, as in TensorRT's reference), each chunk's total spread back evenly over its
    ``nonzero`` bins (the others stay empty)."""
    chunk = np.minimum(np.arange(len(h)) // (len(h) // levels), levels - 1)
    totals = np.bincount(chunk, weights=h, minlength=levels)
    kept = np.bincount(chunk, weights=nonzero, minlength=levels)
    return np.where(nonzero, totals[chunk] / np.maximum(kept[chunk], 1), 0.0)


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(P || Q) of two unnormalised histograms; bins where Q is empty but P is not count as
    a large penalty rather than infinity (TensorRT smooths them the same way)."""
    p, q = p / p.sum(), q / max(q.sum(), 1e-30)
    mask = p > 0
    q = np.where(mask & (q == 0), 1e-12, q)
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def save_thresholds(path: Path, method: CalibrationMethod, thresholds: dict[str, float]) -> None:
    """Write the ranges cache."""
    data = {"method": CalibrationMethod(method).value, "thresholds": thresholds}
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def load_thresholds(path: Path, method: CalibrationMethod) -> dict[str, float]:
    """Read a ranges cache written by :func:`save_thresholds` for ``method``.

    Raises:
        CalibrationError: Unreadable, or made with another method.
    """
    try:
        data = json.loads(path.read_text())
        cached, thresholds = data["method"], {str(k): float(v) for k, v in data["thresholds"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CalibrationError(f"cannot read the ranges cache {path}: {exc}") from exc
    wanted = CalibrationMethod(method).value
    if cached != wanted:
        raise CalibrationError(f"ranges cache {path} holds {cached} ranges, not {wanted}")
    return thresholds
