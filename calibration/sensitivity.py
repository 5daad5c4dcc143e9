"""Per-layer INT8 sensitivity: which convs cost accuracy when quantized.

One-at-a-time sweep (the "layer-wise sensitivity analysis" of Wu et al. 2020, "Integer
Quantization for Deep Learning Inference", Sec. 5): quantize every conv, then again with
each conv in turn kept float; the PSNR gained by keeping conv *i* float is its sensitivity.
Activation ranges are calibrated once and reused (the ranges cache of
:func:`~nst.calibration.int8.calibrate_ranges`), so the sweep costs one calibration pass plus
one cheap Q/DQ insertion and evaluation per conv.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nst.calibration.artifact import cpu_session, load_model, run
from nst.calibration.feeds import model_feeds
from nst.calibration.int8 import Int8Options, quantize_int8
from nst.calibration.metrics import psnr
from nst.calibration.qdq import quantizable_nodes
from nst.calibration.source import CalibrationMethod, CalibrationSource, Feed


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
    method: CalibrationMethod = CalibrationMethod.PERCENTILE, progress: Callable[[str], None] | None = None,
) -> tuple[float, list[LayerSensitivity]]:  # fmt: skip
    """Sweep every quantizable Conv of ``model`` (constant weights).

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
    quantizable = quantizable_nodes(proto)
    convs = [n.name for n in quantizable]
    weights = {n.name: n.input[1] for n in quantizable}
    feeds = list(model_feeds(evaluation, proto))
    fp32 = cpu_session(model)
    refs = [run(fp32, f) for f in feeds]
    rows: list[LayerSensitivity] = []
    with tempfile.TemporaryDirectory(prefix="nst-sweep-") as tmp:
        cache = Path(tmp) / "ranges.json"

        def variant(name: str, exclude: tuple[str, ...]) -> float:
            options = Int8Options(method=method, exclude=exclude, min_psnr=0.0)
            out = quantize_int8(model, Path(tmp) / f"{name}.onnx", source, options, ranges_cache=cache)
            return _mean_psnr(out.path, feeds, refs)

        all_int8 = variant("all", ())  # only Conv inputs are ever quantized (nst.calibration.qdq)
        for conv in convs:
            if progress is not None:
                progress(conv)
            value = variant(conv, (conv,))
            rows.append(LayerSensitivity(conv, weights[conv], value, value - all_int8))
    return all_int8, rows


def main(argv: list[str] | None = None) -> None:
    """``python -m nst.calibration.sensitivity MODEL --data DIR --eval-data DIR -o OUT.json``."""
    import argparse
    import json
    from dataclasses import asdict

    from nst.calibration.report import check_disjoint
    from nst.calibration.source import ImageFolderSource

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="calibration images")
    parser.add_argument("--eval-data", type=Path, required=True, help="held-out images")
    parser.add_argument("--size", type=int, default=256, help="calibration crop side")
    parser.add_argument("--eval-size", type=int, default=512, help="held-out crop side")
    parser.add_argument("--method", default="percentile")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    source = ImageFolderSource(args.data, size=args.size)
    evaluation = ImageFolderSource(args.eval_data, size=args.eval_size)
    check_disjoint(evaluation, source)
    method = CalibrationMethod.parse(args.method)
    all_int8, rows = conv_sensitivity(args.model, source, evaluation, method, lambda n: print("sweep", n))
    result = {"model": str(args.model), "method": method.value, "all_convs_int8_psnr_db": all_int8,
              "rows": [asdict(r) for r in rows]}  # fmt: skip
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    for r in sorted(rows, key=lambda r: -r.gain_db):
        print(f"{r.node:20s} {r.weight:32s} {r.psnr_db:6.2f} dB  {r.gain_db:+.2f}")


if __name__ == "__main__":
    main()
