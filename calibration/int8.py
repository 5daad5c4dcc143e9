"""FP32 ONNX -> INT8 ONNX with explicit Q/DQ nodes (ONNX Runtime static quantization).

The QDQ model runs on ORT's CPU EP (Q/DQ pairs around a Conv fuse into QLinearConv) and is
what TensorRT's explicit quantization consumes: the scales live in the graph, so no
calibrator runs at engine-build time.

Node selection patterns (``--exclude``), matched against every node:

* ``@first-conv`` / ``@last-conv``: the first / last Conv in topological order;
* ``op:TYPE``: every node of that op type, e.g. ``op:InstanceNormalization``;
* anything else: a glob (:mod:`fnmatch`) on the node name *or* on the names of its weight
  initializers, so the PyTorch module path works: ``decoder.2.*`` is the output conv.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nst.calibration.artifact import ConversionResult, check_output, compare, load_model, save_model, stamp
from nst.calibration.source import CalibrationMethod, CalibrationSource, ort_calibration_method, take
from nst.errors import CalibrationError, InputError, did_you_mean

#: Kept in float by default, and why:
#: - the first conv sees the raw image through a 9x9 kernel with only 3 input channels, and
#:   its error reaches every later layer; the last conv writes the image itself (before the
#:   tanh), where an activation step is directly a colour error. Keeping the first and last
#:   layers in higher precision is the usual practice (Wu et al. 2020, "Integer Quantization
#:   for Deep Learning Inference", NVIDIA, Sec. 5; Jacob et al. 2018 Sec. 3).
#: - InstanceNormalization divides by a per-image standard deviation: ORT's CPU EP has no
#:   integer kernel for it, and quantizing its input only adds a Q/DQ round trip of error.
DEFAULT_EXCLUDE: tuple[str, ...] = ("@first-conv", "@last-conv", "op:InstanceNormalization")
#: Histogram bins of entropy calibration (TensorRT's 2048; Migacz, "8-bit Inference with TensorRT", GTC 2017).
ENTROPY_BINS = 2048


@dataclass(frozen=True)
class Int8Options:
    """How to quantize.

    Attributes:
        method: Activation-range estimation. Percentile by default: on the 16/5 Johnson net
            it gave the best held-out PSNR of the three (docs/CALIBRATION.md, "Measured").
        per_channel: One weight scale per output channel (Krishnamoorthi 2018, Sec. 3.1:
            per-tensor weight scales lose accuracy when channel ranges differ).
        exclude: Node patterns kept in float (see the module docstring).
        reduce_range: 7-bit weights, for x86 CPUs without VNNI where U8S8 products can
            saturate the 16-bit intermediate of ``vpmaddubsw`` (ORT quantization docs).
        min_psnr: Fail if the INT8 model is below this PSNR (dB) against FP32 on the first
            calibration feeds (a sanity floor; the report measures held-out images).
    """

    method: CalibrationMethod = CalibrationMethod.PERCENTILE
    per_channel: bool = True
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    reduce_range: bool = False
    min_psnr: float = 20.0


def _initializers(node: Any, init_names: set[str]) -> list[str]:
    return [name for name in node.input if name in init_names]


def select_nodes(proto: Any, patterns: Sequence[str], *, strict: bool = True) -> list[str]:
    """Names of the nodes of ``proto`` that match any of ``patterns`` (graph order).

    Args:
        proto: An ``onnx.ModelProto``.
        patterns: See the module docstring.
        strict: Raise when a pattern matches nothing (a typo would otherwise silently
            quantize what the user meant to keep in float).

    Raises:
        InputError: A pattern matches no node (strict), with the closest node names.
    """
    nodes = list(proto.graph.node)
    init_names = {i.name for i in proto.graph.initializer}
    convs = [n.name for n in nodes if n.op_type == "Conv"]
    chosen: dict[str, None] = {}
    for pattern in patterns:
        if pattern in ("@first-conv", "@last-conv"):
            hits = convs[:1] if pattern == "@first-conv" else convs[-1:]
        elif pattern.startswith("op:"):
            hits = [n.name for n in nodes if n.op_type == pattern[3:]]
        else:
            hits = [
                n.name for n in nodes
                if fnmatch.fnmatchcase(n.name, pattern)
                or any(fnmatch.fnmatchcase(i, pattern) for i in _initializers(n, init_names))
            ]  # fmt: skip
        if not hits and strict:
            names = [n.name for n in nodes] + sorted(init_names)
            hint = did_you_mean(pattern, names, n=3)
            raise InputError(f"exclude pattern {pattern!r} matches no node{hint}")
        chosen.update(dict.fromkeys(hits))
    return [n.name for n in nodes if n.name in chosen]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence ORT quantization's prints and shape-inference warnings (one summary line is ours)."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logging.disable(previous)


def _reader(source: CalibrationSource, on_feed: Callable[[], None] | None) -> Any:
    """A :class:`CalibrationSource` as ORT's ``CalibrationDataReader``."""
    from onnxruntime.quantization import CalibrationDataReader

    class SourceReader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(source)

        def get_next(self) -> dict[str, Any] | None:
            feed = next(self._it, None)
            if feed is not None and on_feed is not None:
                on_feed()
            return feed

        def rewind(self) -> None:
            self._it = iter(source)

    return SourceReader()


def quantize_int8(
    model: str | Path, output: str | Path, source: CalibrationSource, options: Int8Options | None = None,
    *, force: bool = False, on_feed: Callable[[], None] | None = None, ranges_cache: Path | None = None,
    preprocess: bool = True,
) -> ConversionResult:  # fmt: skip
    """Calibrate ``model`` on ``source`` and write an INT8 QDQ model.

    Args:
        model: FP32 ONNX model exported by ``nst export``.
        output: Destination ``.onnx``.
        source: Calibration feeds (e.g. :class:`~nst.calibration.source.ImageFolderSource`).
        options: Method, per-channel, excluded nodes; defaults to :class:`Int8Options`.
        force: Overwrite ``output``.
        on_feed: Called once per calibration feed consumed (progress bars).
        ranges_cache: ORT's JSON cache of activation ranges: loaded when it exists (no
            calibration pass), else written after calibrating. Only valid for the same
            model, source and method; used by the sensitivity sweep.
        preprocess: Run ORT's ``quant_pre_process`` first; False when ``model`` is already
            pre-processed (the sweep does it once for all its variants).

    Returns:
        The result; ``details`` holds the method, excluded and quantized nodes.

    Raises:
        OutputExistsError: ``output`` exists and ``force`` is false.
        ModelError: ``model`` cannot be read.
        InputError: An exclude pattern matches nothing.
        CalibrationError: Empty source, ORT failure, or the INT8 model is below ``min_psnr``.
    """
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    opts = options or Int8Options()
    out = check_output(output, model, force)
    if len(source) == 0:
        raise CalibrationError("the calibration source has no images")
    start = time.perf_counter()
    original = load_model(model)
    with tempfile.TemporaryDirectory(prefix="nst-int8-") as tmp:
        pre, qdq = Path(tmp) / "pre.onnx", Path(tmp) / "qdq.onnx"
        if preprocess:
            preprocess_model(Path(model), pre)
        else:
            pre = Path(model)
        prepared = load_model(pre)
        excluded = select_nodes(prepared, opts.exclude, strict=opts.exclude != DEFAULT_EXCLUDE)
        cache = ranges_cache or Path(tmp) / "ranges.json"
        if not cache.is_file():
            calibrate_ranges(pre, source, opts.method, cache, on_feed)
        try:
            with _quiet():
                quantize_static(
                    str(pre), str(qdq), None, quant_format=QuantFormat.QDQ,
                    per_channel=opts.per_channel, reduce_range=opts.reduce_range,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    nodes_to_exclude=excluded, calibrate_method=ort_calibration_method(opts.method),
                    calibration_cache_path=cache,
                )  # fmt: skip
        except Exception as exc:  # ORT raises ValueError/RuntimeError/...
            raise CalibrationError(f"INT8 quantization failed: {str(exc).splitlines()[0][:200]}") from exc
        proto = load_model(qdq)
    details = {
        "method": opts.method.value, "per_channel": opts.per_channel, "reduce_range": opts.reduce_range,
        "exclude": list(opts.exclude), "excluded_nodes": excluded,
        "quantized_nodes": quantized_nodes(proto, excluded), "calibration_images": len(source),
    }  # fmt: skip
    stamp(proto, original, "int8", details)
    save_model(proto, out)
    try:
        worst = compare(model, out, take(source, 2), opts.min_psnr)
    except BaseException:
        out.unlink(missing_ok=True)  # never leave a model that failed validation
        raise
    return ConversionResult(out, "int8", out.stat().st_size, time.perf_counter() - start, worst, details)


def preprocess_model(model: Path, out: Path) -> None:
    """Symbolic shape inference + ORT's graph clean-up, as ORT recommends before quantizing."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        with _quiet():
            quant_pre_process(str(model), str(out), skip_symbolic_shape=False)
    except Exception as exc:
        raise CalibrationError(f"quantization pre-processing failed: {str(exc)[:200]}") from exc


def calibrate_ranges(
    model: Path, source: CalibrationSource, method: CalibrationMethod, cache: Path,
    on_feed: Callable[[], None] | None = None,
) -> None:  # fmt: skip
    """Run ``source`` through ``model`` and save every activation range to ``cache`` (ORT's JSON).

    Calibrates outside ``quantize_static`` because that call leaves the entropy histogram at
    128 bins with 128 quantized bins, so the KL search has a single candidate (the full
    range) and "entropy" returns exactly the min/max ranges (checked on ORT 1.32). Here the
    histogram has :data:`ENTROPY_BINS` bins, TensorRT's setting (Migacz 2017).

    Raises:
        CalibrationError: ORT fails while calibrating.
    """
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    op_types = sorted(set(QDQRegistry) | set(QLinearOpsRegistry))  # what quantize_static calibrates
    extra = (
        {"num_bins": ENTROPY_BINS, "num_quantized_bins": 128} if method is CalibrationMethod.ENTROPY else {}
    )
    try:
        with tempfile.TemporaryDirectory(prefix="nst-calib-") as tmp, _quiet():
            calibrator = create_calibrator(
                model, op_types, augmented_model_path=str(Path(tmp) / "augmented.onnx"),
                calibrate_method=ort_calibration_method(method), extra_options=extra,
            )  # fmt: skip
            calibrator.collect_data(_reader(source, on_feed))
            save_tensors_data(calibrator.compute_data(), cache)
    except Exception as exc:  # ORT raises ValueError/RuntimeError/...
        raise CalibrationError(f"INT8 calibration failed: {str(exc).splitlines()[0][:200]}") from exc


def quantized_nodes(proto: Any, excluded: Sequence[str] = ()) -> list[str]:
    """Names of the nodes that run in INT8: op types ORT's QDQ quantizer handles, not
    excluded, with at least one input coming through a DequantizeLinear (ORT and TensorRT fuse
    ``DQ -> op -> Q`` into one integer kernel)."""
    from onnxruntime.quantization.registry import QDQRegistry

    dq_outputs = {o for n in proto.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    skip = set(excluded)
    return [
        n.name for n in proto.graph.node
        if n.op_type in QDQRegistry and n.name not in skip and any(i in dq_outputs for i in n.input)
    ]  # fmt: skip
