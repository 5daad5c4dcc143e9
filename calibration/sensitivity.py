"""Per-layer INT8 sensitivity: which convs cost accuracy when quantized.

One-at-a-time sweep (the "layer-wise sensitivity analysis" of Wu et al. 2020, "Integer
Quantization for Deep Learning Inference", Sec. 5): quantize every conv, then again with
each conv in turn kept float; the PSNR gained by keeping conv *i* float is its sensitivity.
Activation ranges are calibrated once and reused (ORT's ranges cache), so the sweep costs one
calibration pass plus one cheap quantization per conv.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nst.calibration.artifact import cpu_session, load_model, run
from nst.calibration.int8 import Int8Options, quantize_int8, select_nodes
from nst.calibration.metrics import psnr
from nst.calibration.source import CalibrationMethod, CalibrationSource, Feed

ALWAYS_FLOAT = ("op:InstanceNormalization",)


@dataclass(frozen=True)
class LayerSensitivity:
    """One row of the sweep.

    Attributes:
        node: Conv node name.
        weight: Its weight initializer (the PyTorch parameter name).
        psnr_db: Mean PSNR vs FP32 with every conv INT8 except this one.
        gain_db: ``psnr_db`` minus the all-convs-INT8 PSNR.
    """

    node: str
    weight: str
    psnr_db: float
    gain_db: float


def _mean_psnr(model: Path, feeds: list[Feed], refs: list[np.ndarray]) -> float:
    session = cpu_session(model)
    return float(np.mean([psnr(ref, run(session, f)) for f, ref in zip(feeds, refs, strict=True)]))


def conv_sensitivity(
    model: Path, source: CalibrationSource, evaluation: CalibrationSource,
    method: CalibrationMethod = CalibrationMethod.ENTROPY, progress: Callable[[str], None] | None = None,
) -> tuple[float, list[LayerSensitivity]]:  # fmt: skip
    """Sweep every Conv of ``model``.

    Args:
        model: FP32 ONNX model.
        source: Calibration images.
        evaluation: Held-out images the PSNR is measured on.
        method: Calibration method.
        progress: Called with the node name before each variant.

    Returns:
        (PSNR with every conv INT8, one row per conv in graph order).
    """
    proto = load_model(model)
    convs = select_nodes(proto, ["op:Conv"])
    weights = {n.name: n.input[1] for n in proto.graph.node if n.op_type == "Conv"}
    feeds = list(evaluation)
    fp32 = cpu_session(model)
    refs = [run(fp32, f) for f in feeds]
    rows: list[LayerSensitivity] = []
    with tempfile.TemporaryDirectory(prefix="nst-sweep-") as tmp:
        cache = Path(tmp) / "ranges.json"

        def variant(name: str, exclude: tuple[str, ...]) -> float:
            options = Int8Options(method=method, exclude=exclude, min_psnr=0.0)
            out = quantize_int8(model, Path(tmp) / f"{name}.onnx", source, options, ranges_cache=cache)
            return _mean_psnr(out.path, feeds, refs)

        all_int8 = variant("all", ALWAYS_FLOAT)
        for conv in convs:
            if progress is not None:
                progress(conv)
            value = variant(conv, (*ALWAYS_FLOAT, conv))
            rows.append(LayerSensitivity(conv, weights[conv], value, value - all_int8))
    return all_int8, rows
