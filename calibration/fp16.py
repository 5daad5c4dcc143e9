"""FP32 ONNX -> FP16 ONNX, keeping range-sensitive ops in FP32, validated against FP32.

Uses ONNX Runtime's converter (``onnxruntime.transformers.float16``): it rewrites float
initializers and tensors to float16 and puts Cast nodes around every op in the block list.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nst.calibration.artifact import (
    ConversionResult,
    Feed,
    check_output,
    compare,
    load_model,
    save_model,
    stamp,
)
from nst.errors import CalibrationError

#: Ops kept in FP32 on top of ORT's own block list, and why.
#: InstanceNormalization sums x and x^2 over H*W: at 512x512 that is 262,144 terms, far past
#: float16's 65,504 maximum and its 11-bit mantissa, so the variance overflows or loses all
#: precision (the same reason TensorRT recommends FP32 normalisation layers). The reductions
#: and exponentials below have the same overflow/underflow problem when a model uses them.
RANGE_SENSITIVE_OPS: tuple[str, ...] = (
    "InstanceNormalization", "LayerNormalization", "GroupNormalization", "BatchNormalization",
    "ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL2", "Pow", "Exp", "Softmax",
)  # fmt: skip


def fp16_block_list(extra: Sequence[str] = ()) -> list[str]:
    """ORT's default block list + :data:`RANGE_SENSITIVE_OPS` + ``extra`` (deduplicated)."""
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST

    return list(dict.fromkeys([*DEFAULT_OP_BLOCK_LIST, *RANGE_SENSITIVE_OPS, *extra]))


def convert_fp16(
    model: str | Path, output: str | Path, *, keep_io_types: bool = True,
    extra_block_ops: Sequence[str] = (), validation_feeds: Iterable[Feed] | None = None,
    min_psnr: float = 30.0, force: bool = False,
) -> ConversionResult:  # fmt: skip
    """Write an FP16 copy of ``model``.

    Args:
        model: FP32 ONNX model exported by ``nst export``.
        output: Destination ``.onnx``.
        keep_io_types: Keep the graph inputs/outputs float32 (casts inside the graph), so
            hosts feed the same arrays as for FP32. False makes the I/O float16.
        extra_block_ops: More op types to keep in FP32.
        validation_feeds: Feeds (float32) to compare against FP32; default one seeded random
            1x3x64x64 image.
        min_psnr: Fail below this PSNR (dB) against FP32 on the validation feeds.
        force: Overwrite ``output``.

    Returns:
        The result; ``details["blocked_ops"]`` lists the ops kept in FP32.

    Raises:
        OutputExistsError: ``output`` exists and ``force`` is false.
        ModelError: ``model`` cannot be read.
        CalibrationError: Conversion failed or the FP16 model is below ``min_psnr``.
    """
    from onnxruntime.transformers.float16 import convert_float_to_float16

    out = check_output(output, model, force)
    start = time.perf_counter()
    source = load_model(model)
    blocked = fp16_block_list(extra_block_ops)
    try:
        proto = convert_float_to_float16(
            load_model(model), keep_io_types=keep_io_types, op_block_list=blocked
        )
    except Exception as exc:  # the converter raises ValueError / onnx errors
        raise CalibrationError(f"FP16 conversion failed: {str(exc).splitlines()[0][:200]}") from exc
    _restore_fp32_initializers(proto, source)
    _check(proto)
    present = sorted({n.op_type for n in source.graph.node} & set(blocked))
    details = {"keep_io_types": keep_io_types, "blocked_ops": present}
    stamp(proto, source, "fp16", details)
    save_model(proto, out)
    feeds = validation_feeds if validation_feeds is not None else [_random_feed(source)]
    io_dtype = np.float32 if keep_io_types else np.float16
    try:
        worst = compare(model, out, feeds, min_psnr, candidate_dtype=io_dtype)
    except BaseException:
        out.unlink(missing_ok=True)  # never leave a model that failed validation
        raise
    return ConversionResult(out, "fp16", out.stat().st_size, time.perf_counter() - start, worst, details)


def _restore_fp32_initializers(proto: Any, source: Any) -> None:
    """Give FP32 ops their original FP32 weights instead of float16-rounded copies.

    The converter turns every float initializer into float16 and, for a blocked op, casts it
    back (``w -> Cast(to=float) -> InstanceNormalization``), which rounds the norm's scale
    and bias to 11 bits. Each such Cast of an initializer becomes an FP32 initializer holding
    the source model's exact values; float16 initializers nothing reads any more are dropped.
    """
    import onnx
    from onnx import numpy_helper

    originals = {t.name: t for t in source.graph.initializer}
    inits = {t.name: t for t in proto.graph.initializer}
    folded = []
    for node in proto.graph.node:
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        if node.op_type != "Cast" or node.input[0] not in inits or to != onnx.TensorProto.FLOAT:
            continue
        original = originals.get(node.input[0])
        if original is not None and original.data_type == onnx.TensorProto.FLOAT:
            values = numpy_helper.to_array(original)
        else:
            values = numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)
        proto.graph.initializer.append(numpy_helper.from_array(values, node.output[0]))
        folded.append(node)
    for node in folded:
        proto.graph.node.remove(node)
    used = {i for n in proto.graph.node for i in n.input} | {o.name for o in proto.graph.output}
    for tensor in [t for t in proto.graph.initializer if t.name not in used]:
        proto.graph.initializer.remove(tensor)


def _check(proto: Any) -> None:
    """Drop the converter's stale value_info (optional hints) and check the graph's types.

    Raises:
        CalibrationError: onnx.checker rejects the converted model.
    """
    import onnx

    del proto.graph.value_info[:]
    _toposort(proto)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise CalibrationError(f"the FP16 model fails onnx.checker: {str(exc)[:200]}") from exc


def _toposort(proto: Any) -> None:
    """Reorder nodes so each comes after its producers (the converter appends its input casts
    at the end; ONNX requires topological order, ORT merely tolerates the disorder)."""
    graph = proto.graph
    ready = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        runnable = [n for n in pending if all(i in ready for i in n.input)]
        if not runnable:
            raise CalibrationError(f"the FP16 graph has a cycle or a dangling input near {pending[0].name}")
        for node in runnable:
            ready.update(node.output)
            ordered.append(node)
        pending = [n for n in pending if n not in runnable]
    del graph.node[:]
    graph.node.extend(ordered)


def _random_feed(model: object) -> Feed:
    name = model.graph.input[0].name  # type: ignore[attr-defined]
    return {name: np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)}
