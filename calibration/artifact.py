"""Shared plumbing of the FP16 and INT8 converters: load, stamp metadata, save, compare.

Imports onnx / onnxruntime inside functions so ``import nst.calibration`` stays light.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nst.artifacts import check_targets, staged
from nst.calibration.metrics import psnr
from nst.errors import CalibrationError, ModelError

Feed = dict[str, np.ndarray]


@dataclass(frozen=True)
class ConversionResult:
    """What a conversion produced.

    Attributes:
        path: The written model.
        precision: ``fp16`` or ``int8``.
        size_bytes: Its file size.
        seconds: Wall time of the conversion (calibration included).
        psnr_db: PSNR of its output against the FP32 model on the validation feeds.
        details: Precision-specific facts (excluded nodes, blocked ops, method ...).
    """

    path: Path
    precision: str
    size_bytes: int
    seconds: float
    psnr_db: float
    details: dict[str, Any]


def check_output(path: str | Path, source: str | Path, force: bool) -> Path:
    """Refuse to overwrite an existing file (unless ``force``) or the source model itself.

    Raises:
        OutputExistsError: ``path`` exists and ``force`` is false.
        CalibrationError: ``path`` is the input model.
    """
    return check_targets([path], force=force, sources=[source])[0]


def load_model(path: str | Path) -> Any:
    """Load an ONNX model (an ``onnx.ModelProto``).

    Raises:
        ModelError: Missing or unreadable file.
    """
    import onnx

    p = Path(path)
    if not p.is_file():
        raise ModelError(f"model file not found: {p}")
    try:
        return onnx.load(str(p))
    except Exception as exc:  # onnx raises DecodeError, OSError ...
        raise ModelError(f"cannot read ONNX model {p}: {str(exc).splitlines()[0][:200]}") from exc


def stamp(proto: Any, source: Any, precision: str, details: dict[str, Any]) -> None:
    """Copy the source's ``nst.*`` metadata and add ``nst.precision`` / ``nst.calibration``."""
    import onnx

    props = {p.key: p.value for p in source.metadata_props}
    props["nst.precision"] = precision
    props["nst.calibration"] = json.dumps(details, sort_keys=True)
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)


def save_model(proto: Any, path: Path) -> None:
    """Write atomically (:func:`nst.artifacts.staged`), with the usual umask permissions."""
    import onnx

    with staged(path) as tmp:
        onnx.save_model(proto, str(tmp))


def cpu_session(path: str | Path, threads: int = 0) -> Any:
    """An ORT CPU InferenceSession (errors become :class:`ModelError`)."""
    from nst.runtime.onnxrt.runner import session_from_onnx

    return session_from_onnx(path, ["CPUExecutionProvider"], threads)


def run(session: Any, feed: Feed) -> np.ndarray:
    """First output of ``session`` on ``feed`` as float32."""
    return np.asarray(session.run(None, feed)[0], dtype=np.float32)


def compare(
    reference: str | Path, candidate: str | Path, feeds: Iterable[Feed], min_psnr: float,
    candidate_dtype: type = np.float32,
) -> float:  # fmt: skip
    """Worst-feed PSNR of ``candidate`` against ``reference``; raise if below ``min_psnr``.

    ``candidate`` gets the feeds cast to ``candidate_dtype`` (float16 for FP16 I/O).

    Raises:
        CalibrationError: Non-finite output, a shape change, or PSNR below ``min_psnr``.
    """
    ref, cand = cpu_session(reference), cpu_session(candidate)
    worst = float("inf")
    for feed in feeds:
        a, b = run(ref, feed), run(cand, {k: v.astype(candidate_dtype) for k, v in feed.items()})
        if a.shape != b.shape or not np.isfinite(b).all():
            raise CalibrationError(f"{Path(candidate).name} gives non-finite or mis-shaped output")
        worst = min(worst, psnr(a, b))
    if worst < min_psnr:
        raise CalibrationError(
            f"{Path(candidate).name} is {worst:.1f} dB PSNR from FP32 (< {min_psnr:g} dB): "
            "exclude more nodes (--exclude) or try another --method"
        )
    return worst
