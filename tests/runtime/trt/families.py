"""Every model family as a tiny exported ONNX model, in FP32 and through nst's real FP16 and
INT8 (Q/DQ) conversions: what ``nst export`` + ``nst calibrate`` give a user, at small widths.

Used by the family engine tests and ``scripts/bench_trt_build.py`` (which passes real widths).
Weights are random (engine builds do not care what a net learned); export goes through nst's
own ``onnx_from_module`` with the family's ExportSpec and metadata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

#: Tiny configs: the narrowest each family allows, so CI exports in seconds.
TINY: dict[str, dict[str, Any]] = {
    "johnson": {"base_channels": 4, "num_residual": 1},
    "cin": {"base_channels": 4, "num_residual": 1, "num_styles": 2},
    "stylebank": {"base_channels": 4, "num_styles": 2},
    "styleswap": {"base_channels": 4},
    "texture": {"scales": 3, "block_channels": 4},
    "texture_style": {"scales": 3, "block_channels": 4},
    "sr": {"scale": 4, "channels": 4, "num_residual": 1},
}
FAMILIES = tuple(TINY)
PRECISIONS = ("fp32", "fp16", "int8")
CALIBRATION_IMAGES = 4


def export_family(family: str, path: Path, config: dict[str, Any] | None = None) -> Path:
    """Export ``family`` (random weights, ``config`` or :data:`TINY`) with nst metadata to ``path``."""
    import onnx

    import nst
    from nst.contract.metadata import ModelMetadata
    from nst.export.onnx_export import onnx_from_module
    from nst.train.models import build_model

    cfg = config if config is not None else TINY[family]
    net = build_model(family, cfg).eval()
    spec = net.export_spec()
    proto = onnx_from_module(net, spec)
    styles = tuple(f"style{i}" for i in range(int(cfg.get("num_styles", 1))))
    meta = ModelMetadata(family, styles, spec, nst.__version__, {"nst.model_config": json.dumps(cfg)})
    onnx.helper.set_model_props(proto, meta.to_props())
    onnx.save(proto, str(path))
    return path


def convert(fp32: Path, precision: str, out: Path) -> Path:
    """``fp32`` through nst's FP16 conversion or INT8 calibration (seeded 32 x 32 images)."""
    from nst.calibration.fp16 import convert_fp16
    from nst.calibration.int8 import quantize_int8
    from nst.cli.build_engine_cmd import validation_feed
    from nst.runtime.trt.config import read_model

    spec = read_model(fp32).metadata.spec
    if precision == "fp16":
        return convert_fp16(fp32, out, validation_feeds=[validation_feed(spec, 32)], force=True).path
    rng = np.random.default_rng(0)
    images = [{"image": rng.random((1, 3, 32, 32), dtype=np.float32)} for _ in range(CALIBRATION_IMAGES)]
    return quantize_int8(fp32, out, images, force=True).path


def small_profile(spec: Any) -> Any:
    """A small image profile the family accepts: min its min_size, opt 32, max 64 (N <= 2)."""
    from nst.contract.profiles import Profile

    low = max(spec.min_size, 8)
    n = min(2, spec.profile.get("max", (2,))[0])
    return Profile((1, 3, low, low), (1, 3, 32, 32), (n, 3, 64, 64))


class FamilyModels:
    """Exports and converts on first use, once per (family, precision); failures are kept and
    re-raised, so one family's problem fails only its own tests."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._done: dict[tuple[str, str], Path | BaseException] = {}

    def get(self, family: str, precision: str = "fp32") -> Path:
        key = (family, precision)
        if key not in self._done:
            try:
                self._done[key] = self._make(family, precision)
            except Exception as exc:  # kept for every test of this cell
                self._done[key] = exc
        value = self._done[key]
        if isinstance(value, BaseException):
            raise value
        return value

    def _make(self, family: str, precision: str) -> Path:
        if precision == "fp32":
            return export_family(family, self.folder / f"{family}.onnx")
        return convert(self.get(family), precision, self.folder / f"{family}.{precision}.onnx")
