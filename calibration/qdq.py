"""Explicit INT8 Q/DQ in the form strongly typed TensorRT (11, RTX; 10 in explicit mode) builds.

TensorRT takes INT8 only from QuantizeLinear/DequantizeLinear pairs, and only in one form:

* activations: ``QuantizeLinear -> DequantizeLinear`` with a float32 scalar scale and an
  **int8** zero point 0 (symmetric, signed; a uint8 zero point is refused by the parser);
* weights: an int8 initializer through ``DequantizeLinear`` with one scale per output
  channel (``axis=0`` for Conv) and zero points 0;
* bias: left float (TensorRT folds it into the INT8 kernel; an int32 bias
  ``DequantizeLinear`` is refused);
* nothing else quantized: Q/DQ sit only on the data and weight inputs of Conv (no quantized
  Add/Mul scalars, Pad, Resize or InstanceNormalization inputs). TensorRT fuses
  ``DQ -> Conv`` into an INT8 convolution and keeps the rest in the network's float types
  (NVIDIA, "Working with Quantized Types", Q/DQ placement recommendations: quantize the
  inputs of weighted layers).

:func:`insert_qdq` writes that form from calibrated thresholds; :func:`check_qdq` checks any
model for it (run on every model :mod:`nst.calibration.int8` writes, and in the tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

QMAX = 127  # symmetric INT8: [-127, 127] for weights, scale = threshold / 127 for activations
MIN_OPSET = 13  # per-channel DequantizeLinear (axis) needs opset 13
#: Ops whose inputs get Q/DQ: op type -> weight input index and its output-channel axis.
QUANTIZABLE = {"Conv": (1, 0)}


def opset(proto: Any) -> int:
    """The model's default-domain (``ai.onnx``) opset."""
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)


def quantizable_nodes(proto: Any) -> list[Any]:
    """Conv nodes whose weight is a constant float initializer of rank >= 3 (graph order).

    A Conv whose weight is computed at run time (style-swap's patch correlation) has no
    static per-channel scale, so it stays float.
    """
    import onnx

    inits = {i.name: i for i in proto.graph.initializer}
    nodes = []
    for node in proto.graph.node:
        if node.op_type not in QUANTIZABLE:
            continue
        weight = inits.get(node.input[QUANTIZABLE[node.op_type][0]])
        if weight is not None and weight.data_type == onnx.TensorProto.FLOAT and len(weight.dims) >= 3:
            nodes.append(node)
    return nodes


def weight_qdq(weight: np.ndarray, per_channel: bool, qmax: int = QMAX) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric INT8 weights: (int8 values, float32 scales [C_out] or scalar).

    ``scale = max |w| / qmax`` per output channel (axis 0) or over the tensor; an all-zero
    channel gets scale 1 (TensorRT needs positive scales; its values are 0 either way).
    """
    w = np.asarray(weight, dtype=np.float32)
    amax = np.abs(w).reshape(len(w), -1).max(axis=1) if per_channel else np.array(np.abs(w).max())
    scale = np.where(amax > 0, amax / qmax, 1.0).astype(np.float32)
    view = scale.reshape(-1, *([1] * (w.ndim - 1))) if per_channel else scale
    q = np.clip(np.round(w / view), -qmax, qmax).astype(np.int8)
    return q, scale


def insert_qdq(
    proto: Any, nodes: Sequence[Any], thresholds: Mapping[str, float], *, per_channel: bool = True,
    weight_qmax: int = QMAX,
) -> list[str]:  # fmt: skip
    """Put Q/DQ on the data and weight inputs of ``nodes`` (in place).

    Args:
        proto: The ``onnx.ModelProto`` the nodes belong to.
        nodes: Quantizable nodes (:func:`quantizable_nodes`) to run in INT8.
        thresholds: Activation tensor -> calibrated ``|x|`` threshold (scale ``T / 127``).
        per_channel: One weight scale per output channel (else one per tensor).
        weight_qmax: 127, or 63 for 7-bit weights (``reduce_range``).

    Returns:
        The names of the nodes that were quantized (a node whose input has no threshold,
        or a zero one, stays float).
    """
    import onnx
    from onnx import helper, numpy_helper

    inits = {i.name: i for i in proto.graph.initializer}
    chosen = {n.output[0] for n in nodes if thresholds.get(n.input[0], 0.0) > 0}
    taken = {*inits, *(t for n in proto.graph.node for t in (*n.input, *n.output, n.name))}
    new_inits: list[Any] = []
    done: dict[str, str] = {}  # tensor -> its dequantized name

    def fresh(base: str) -> str:
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        return name

    def constants(q: np.ndarray | None, scale: np.ndarray, base: str) -> list[str]:
        arrays = ([] if q is None else [(q, "quantized")]) + [
            (scale, "scale"),
            (np.zeros_like(scale, np.int8), "zero_point"),
        ]
        names = [fresh(f"{base}_{suffix}") for _, suffix in arrays]
        new_inits.extend(numpy_helper.from_array(a, n) for (a, _), n in zip(arrays, names, strict=True))
        return names

    def activation(name: str) -> list[Any]:
        args = constants(None, np.array(thresholds[name] / QMAX, np.float32), name)
        q, done[name] = fresh(f"{name}_quantized"), fresh(f"{name}_dequantized")
        return [
            helper.make_node("QuantizeLinear", [name, *args], [q], fresh(f"{name}_QuantizeLinear")),
            helper.make_node("DequantizeLinear", [q, *args], [done[name]], fresh(f"{name}_DequantizeLinear")),
        ]

    def weight(name: str, axis: int) -> list[Any]:
        q, scale = weight_qdq(numpy_helper.to_array(inits[name]), per_channel, weight_qmax)
        done[name] = fresh(f"{name}_dequantized")
        node = helper.make_node("DequantizeLinear", constants(q, scale, name), [done[name]],
                                fresh(f"{name}_DequantizeLinear"))  # fmt: skip
        if per_channel:
            node.attribute.append(helper.make_attribute("axis", axis))
        return [node]

    ordered: list[Any] = []
    for original in proto.graph.node:
        node = onnx.NodeProto()
        node.CopyFrom(original)
        if node.output[0] in chosen:
            index, axis = QUANTIZABLE[node.op_type]
            data, w = node.input[0], node.input[index]
            ordered += [] if data in done else activation(data)
            ordered += [] if w in done else weight(w, axis)
            node.input[0], node.input[index] = done[data], done[w]
        ordered.append(node)
    del proto.graph.node[:]
    proto.graph.node.extend(ordered)
    used = {i for n in proto.graph.node for i in n.input}
    kept = [i for i in proto.graph.initializer if i.name in used]  # float weights now unused
    del proto.graph.initializer[:]
    proto.graph.initializer.extend([*kept, *new_inits])
    return [n.name for n in nodes if n.output[0] in chosen]


def check_qdq(proto: Any) -> list[str]:
    """Everything in ``proto`` that strongly typed TensorRT would refuse or that breaks the
    placement rules of this module (empty: fine). See the module docstring for the rules."""
    import onnx
    from onnx import numpy_helper

    inits = {i.name: i for i in proto.graph.initializer}
    producer = {o: n for n in proto.graph.node for o in n.output}
    consumers: dict[str, list[tuple[Any, int]]] = {}
    for n in proto.graph.node:
        for k, name in enumerate(n.input):
            consumers.setdefault(name, []).append((n, k))
    problems: list[str] = []
    qdq = [n for n in proto.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    if qdq and opset(proto) < MIN_OPSET:
        problems.append(f"opset {opset(proto)} < {MIN_OPSET}: per-channel Q/DQ needs opset >= {MIN_OPSET}")
    for n in qdq:
        zp = inits.get(n.input[2]) if len(n.input) > 2 else None
        if zp is None or zp.data_type != onnx.TensorProto.INT8 or numpy_helper.to_array(zp).any():
            problems.append(f"{n.name}: zero point must be an int8 initializer of zeros")
        scale = inits.get(n.input[1])
        if scale is None or not (numpy_helper.to_array(scale) > 0).all():
            problems.append(f"{n.name}: scale must be a positive initializer")
        uses = consumers.get(n.output[0], [])
        if n.op_type == "QuantizeLinear":
            if not uses or any(c.op_type != "DequantizeLinear" for c, _ in uses):
                problems.append(f"{n.name}: a QuantizeLinear must feed only DequantizeLinear")
            continue
        source = producer.get(n.input[0])
        if n.input[0] in inits:
            problems += _check_weight_dq(n, inits[n.input[0]], scale, uses)
            continue
        if source is None or source.op_type != "QuantizeLinear":
            problems.append(f"{n.name}: DequantizeLinear of neither an int8 weight nor a QuantizeLinear")
        for c, k in uses:
            if c.op_type not in QUANTIZABLE or k != 0:
                problems.append(f"{n.name}: a dequantized activation feeds {c.op_type} {c.name} input {k}")
    dequantized = {n.output[0] for n in qdq if n.op_type == "DequantizeLinear"}
    for n in proto.graph.node:
        both = n.op_type in QUANTIZABLE and {n.input[0], n.input[QUANTIZABLE[n.op_type][0]]} <= dequantized
        if n.op_type in QUANTIZABLE and any(i in dequantized for i in n.input) and not both:
            problems.append(f"{n.name}: an INT8 {n.op_type} needs Q/DQ on both its data and its weight")
    return problems


def _check_weight_dq(node: Any, weight: Any, scale: Any, uses: list[tuple[Any, int]]) -> list[str]:
    """An int8 weight initializer, used only as the weight of quantizable ops, per-channel along
    their output-channel axis (when its scale is not a scalar)."""
    import onnx

    problems = []
    if weight.data_type != onnx.TensorProto.INT8:
        problems.append(f"{node.name}: weight {weight.name} must be int8")
    for c, k in uses:
        if c.op_type not in QUANTIZABLE or k != QUANTIZABLE[c.op_type][0]:
            problems.append(f"{node.name}: a dequantized weight feeds {c.op_type} {c.name} input {k}")
        elif scale is not None and len(scale.dims) > 0:
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            if axis != QUANTIZABLE[c.op_type][1] or list(scale.dims) != [weight.dims[axis]]:
                problems.append(f"{node.name}: per-channel scales must run along the output channels")
    return problems
