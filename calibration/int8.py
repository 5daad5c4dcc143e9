"""FP32 ONNX -> INT8 ONNX with explicit Q/DQ in the form strongly typed TensorRT builds.

Every Conv with a constant weight (minus the excluded ones) gets Q/DQ on its data and weight
inputs: signed symmetric INT8 activations (zero point 0, scale from a calibrated threshold,
:mod:`nst.calibration.ranges`), per-channel symmetric INT8 weights, float bias, nothing else
quantized (:mod:`nst.calibration.qdq` has the rules and a checker run on every model written).
TensorRT 11 / TensorRT-RTX (strongly typed) and TensorRT 10 in explicit-quantization mode
build it as is; ONNX Runtime's CPU EP runs it too. No calibrator runs at engine-build time.

Node selection patterns (``--exclude``), matched against every node:

* ``@first-conv`` / ``@last-conv``: the first / last Conv in topological order;
* ``op:TYPE``: every node of that op type, e.g. ``op:InstanceNormalization``;
* anything else: a glob (:mod:`fnmatch`) on the node name *or* on the names of its weight
  initializers, so the PyTorch module path works: ``decoder.2.*`` is the output conv.
"""

from __future__ import annotations

import fnmatch
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nst.calibration.artifact import ConversionResult, check_output, compare, load_model, save_model, stamp
from nst.calibration.feeds import model_feeds
from nst.calibration.qdq import MIN_OPSET, QMAX, QUANTIZABLE, check_qdq, insert_qdq, opset, quantizable_nodes
from nst.calibration.ranges import ENTROPY_BINS, collect_thresholds, load_thresholds, save_thresholds
from nst.calibration.source import CalibrationMethod, CalibrationSource, take
from nst.errors import CalibrationError, InputError, did_you_mean

#: Kept in float by default, and why:
#: - the first conv sees the raw image through a 9x9 kernel with only 3 input channels, and
#:   its error reaches every later layer; the last conv writes the image itself (before the
#:   tanh), where an activation step is directly a colour error. Keeping the first and last
#:   layers in higher precision is the usual practice (Wu et al. 2020, "Integer Quantization
#:   for Deep Learning Inference", NVIDIA, Sec. 5; Jacob et al. 2018 Sec. 3).
#: - InstanceNormalization divides by a per-image standard deviation and is never quantized
#:   (only Conv inputs are); the pattern stays so that a custom ``--exclude`` list that
#:   copies the defaults keeps working.
DEFAULT_EXCLUDE: tuple[str, ...] = ("@first-conv", "@last-conv", "op:InstanceNormalization")
__all__ = [
    "DEFAULT_EXCLUDE", "ENTROPY_BINS", "Int8Options", "calibrate_ranges", "preprocess_model", "quantize_int8",
    "quantized_nodes", "select_nodes",
]  # fmt: skip


@dataclass(frozen=True)
class Int8Options:
    """How to quantize.

    Attributes:
        method: Activation-range estimation. Percentile by default: on the 16/5 Johnson net
            it gave the best held-out PSNR of the three (docs/CALIBRATION.md, "Measured").
        per_channel: One weight scale per output channel (Krishnamoorthi 2018, Sec. 3.1:
            per-tensor weight scales lose accuracy when channel ranges differ).
        exclude: Node patterns kept in float (see the module docstring).
        reduce_range: 7-bit weights (values in [-63, 63]); kept from ORT's advice for x86
            CPUs without VNNI, no effect measured here.
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


def quantize_int8(
    model: str | Path, output: str | Path, source: CalibrationSource, options: Int8Options | None = None,
    *, force: bool = False, on_feed: Callable[[], None] | None = None, ranges_cache: Path | None = None,
    preprocess: bool = False,
) -> ConversionResult:  # fmt: skip
    """Calibrate ``model`` on ``source`` and write an INT8 Q/DQ model.

    Args:
        model: FP32 ONNX model exported by ``nst export`` (opset >= 13).
        output: Destination ``.onnx``.
        source: Calibration feeds (e.g. :class:`~nst.calibration.source.ImageFolderSource`);
            inputs other than the image are added from the model's spec
            (:mod:`nst.calibration.feeds`).
        options: Method, per-channel, excluded nodes; defaults to :class:`Int8Options`.
        force: Overwrite ``output``.
        on_feed: Called once per calibration feed consumed (progress bars).
        ranges_cache: JSON cache of activation thresholds (:func:`calibrate_ranges`): loaded
            when it exists (no calibration pass), else written after calibrating. Only valid
            for the same model, source and method; used by the sensitivity sweep.
        preprocess: Run ORT's ``quant_pre_process`` first (shape inference, graph clean-up).
            Not needed by nst's Q/DQ insertion; kept for callers that relied on it.

    Returns:
        The result; ``details`` holds the method, excluded and quantized nodes.

    Raises:
        OutputExistsError: ``output`` exists and ``force`` is false.
        ModelError: ``model`` cannot be read.
        InputError: An exclude pattern matches nothing.
        CalibrationError: Empty source, opset < 13, a calibration failure, a Q/DQ layout
            TensorRT would refuse, or the INT8 model is below ``min_psnr``.
    """
    opts = options or Int8Options()
    out = check_output(output, model, force)
    if len(source) == 0:
        raise CalibrationError("the calibration source has no images")
    start = time.perf_counter()
    original = load_model(model)
    feeds = model_feeds(source, original)
    with tempfile.TemporaryDirectory(prefix="nst-int8-") as tmp:
        path = Path(model)
        if preprocess:
            path = Path(tmp) / "pre.onnx"
            preprocess_model(Path(model), path)
        proto = load_model(path) if preprocess else original
        cache = ranges_cache or Path(tmp) / "ranges.json"
        excluded, quantized = _quantize(proto, path, feeds, opts, cache, on_feed)
    details = {
        "method": opts.method.value, "per_channel": opts.per_channel, "reduce_range": opts.reduce_range,
        "exclude": list(opts.exclude), "excluded_nodes": excluded, "quantized_nodes": quantized,
        "calibration_images": len(source), "qdq": "tensorrt-explicit (int8 symmetric, per-channel weights)",
    }  # fmt: skip
    stamp(proto, original, "int8", details)
    save_model(proto, out)
    try:
        worst = compare(model, out, take(feeds, 2), opts.min_psnr)
    except BaseException:
        out.unlink(missing_ok=True)  # never leave a model that failed validation
        raise
    return ConversionResult(out, "int8", out.stat().st_size, time.perf_counter() - start, worst, details)


def _quantize(
    proto: Any, path: Path, feeds: CalibrationSource, opts: Int8Options, cache: Path,
    on_feed: Callable[[], None] | None,
) -> tuple[list[str], list[str]]:  # fmt: skip
    """Calibrate (unless ``cache`` exists) and insert Q/DQ into ``proto`` (saved at ``path``).

    Returns:
        (excluded node names, quantized node names).
    """
    if opset(proto) < MIN_OPSET:
        raise CalibrationError(f"INT8 Q/DQ needs opset >= {MIN_OPSET}, the model has {opset(proto)}")
    excluded = select_nodes(proto, opts.exclude, strict=opts.exclude != DEFAULT_EXCLUDE)
    if not cache.is_file():
        calibrate_ranges(path, feeds, opts.method, cache, on_feed)
    skip = set(excluded)
    targets = [n for n in quantizable_nodes(proto) if n.name not in skip]
    qmax = QMAX // 2 if opts.reduce_range else QMAX
    thresholds = load_thresholds(cache, opts.method)
    quantized = insert_qdq(proto, targets, thresholds, per_channel=opts.per_channel, weight_qmax=qmax)
    problems = check_qdq(proto) + _onnx_problems(proto)
    if problems:  # a bug here, not the user's: say what TensorRT would refuse
        raise CalibrationError(f"the INT8 model breaks TensorRT's Q/DQ rules: {'; '.join(problems[:3])}")
    return excluded, quantized


def _onnx_problems(proto: Any) -> list[str]:
    import onnx

    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        return [str(exc).splitlines()[0][:200]]
    return []


def preprocess_model(model: Path, out: Path) -> None:
    """Symbolic shape inference + ORT's graph clean-up (``quant_pre_process``).

    Raises:
        CalibrationError: ORT fails.
    """
    import contextlib
    import io
    import logging

    from onnxruntime.quantization.shape_inference import quant_pre_process

    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            quant_pre_process(str(model), str(out), skip_symbolic_shape=False)
    except Exception as exc:
        raise CalibrationError(f"quantization pre-processing failed: {str(exc)[:200]}") from exc
    finally:
        logging.disable(previous)


def calibrate_ranges(
    model: Path, source: CalibrationSource, method: CalibrationMethod, cache: Path,
    on_feed: Callable[[], None] | None = None,
) -> dict[str, float]:  # fmt: skip
    """Run ``source`` through ``model`` and save the threshold of every quantizable Conv's data
    input to ``cache`` (all of them, whatever is excluded, so one cache serves every variant).

    Args:
        model: The FP32 model.
        source: Complete feeds, or image feeds completed from the model's spec.
        method: Range estimation (:mod:`nst.calibration.ranges`).
        cache: JSON file written.
        on_feed: Called once per feed of the first pass.

    Returns:
        tensor -> threshold, as saved.

    Raises:
        CalibrationError: ORT fails while calibrating.
    """
    proto = load_model(model)
    tensors = [n.input[0] for n in quantizable_nodes(proto)]
    thresholds = collect_thresholds(proto, tensors, model_feeds(source, proto), method, on_feed)
    save_thresholds(cache, method, thresholds)
    return thresholds


def quantized_nodes(proto: Any, excluded: Sequence[str] = ()) -> list[str]:
    """Names of the nodes that run in INT8: quantizable ops, not excluded, whose data input
    comes through a DequantizeLinear (TensorRT and ORT fuse ``DQ -> Conv`` into one INT8 op)."""
    dq_outputs = {o for n in proto.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    skip = set(excluded)
    return [
        n.name for n in proto.graph.node
        if n.op_type in QUANTIZABLE and n.name not in skip and n.input and n.input[0] in dq_outputs
    ]  # fmt: skip
