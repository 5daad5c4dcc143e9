"""Cut a stats model (see :mod:`.graph`) into strip-runnable segments, with probed scales.

A small probe run gives every tensor's shape at two image heights: tensors whose height
follows the image's are *spatial* (their scale is image rows per tensor row). Tensors that
depend on no strip input are *global* (style weights and what is computed from them, the
style image's features, the fed statistics): each segment gets them computed once per image.
Tensors that depend only on the shape proxies are recomputed inside whichever segment needs
them. Everything else has a *level*: how many fed-statistics norm layers lie behind it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from nst.runtime.tiling.graph import (
    APPLY_SUFFIX,
    WINDOW,
    Plan,
    Segment,
    TilingError,
    check_local,
    replace_input_shapes,
    stats_model,
    window_extent,
)

PROBE_SIZES = ((128, 96), (192, 96))


def sub_model(
    full: Any, nodes: list, inputs: list[str], outputs: list[str], dtypes: Mapping[str, Any]
) -> bytes:
    """Serialized model of ``nodes`` (in order) reading ``inputs`` and giving ``outputs``."""
    from onnx import TensorProto, helper

    graph = full.graph
    used = {i for n in nodes for i in n.input}
    inits = [i for i in graph.initializer if i.name in used and i.name not in inputs]

    def info(name: str) -> Any:
        dtype = dtypes.get(name)
        elem = TensorProto.FLOAT if dtype is None else helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        return helper.make_tensor_value_info(name, elem, None)

    g = helper.make_graph(nodes, "nst_segment", [info(i) for i in inputs], [info(o) for o in outputs], inits)
    model = helper.make_model(g, opset_imports=list(full.opset_import))
    model.ir_version = full.ir_version
    return model.SerializeToString()


def _elem_types(sm: Any) -> dict[str, Any]:
    """Every tensor's numpy dtype from ONNX shape inference (for the probe model's outputs)."""
    from onnx import helper, shape_inference

    inferred = shape_inference.infer_shapes(sm)
    g = inferred.graph
    infos = [*g.value_info, *g.input, *g.output]
    return {v.name: helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type) for v in infos
            if v.type.tensor_type.elem_type}  # fmt: skip


def analyse(
    model: Any, strip_inputs: list[str], make_feed: Callable[[int, int], dict[str, np.ndarray]],
    pad_multiple: int, session: Callable[[bytes], Any],
) -> Plan:  # fmt: skip
    """Plan exact tiling of ``model`` (an ``onnx.ModelProto`` with nst I/O).

    Args:
        model: The original model.
        strip_inputs: Graph inputs that follow the image's rows (image, noise).
        make_feed: (height, width) -> a valid feed of the original model's inputs.
        pad_multiple: The graph pads H and W to this multiple (the caller pre-pads).
        session: bytes -> an object with ``run(outputs, feed)`` (an ORT session).

    Raises:
        TilingError: An op that mixes rows, or a shape value that crosses a norm layer.
    """
    sm, norms = stats_model(model)
    graph = sm.graph
    proxies = replace_input_shapes(sm, strip_inputs)
    from onnx import numpy_helper

    init_values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    names = [o for n in graph.node for o in n.output if o]
    graph_inputs = [i.name for i in graph.input if i.name not in init_values]
    probe = []
    full = sub_model(sm, list(graph.node), graph_inputs, names, _elem_types(sm))
    sess = session(full)
    for h, w in PROBE_SIZES:
        feed = make_feed(h, w)
        feed.update({f"nst_in_mean_{k}": np.zeros(c, np.float32) for k, (_, c) in enumerate(norms)})
        feed.update({f"nst_in_var_{k}": np.ones(c, np.float32) for k, (_, c) in enumerate(norms)})
        for p, (src, start, end) in proxies.items():
            feed[p] = np.array(feed[src].shape[start:end], np.int64)
        values = dict(zip(names, sess.run(names, feed), strict=True))
        probe.append({**feed, **values})
    return _plan(sm, norms, strip_inputs, proxies, probe, init_values, pad_multiple)


def _plan(
    sm: Any, norms: list[tuple[str, int]], strip_inputs: list[str], proxies: dict,
    probe: list[dict[str, np.ndarray]], init_values: dict[str, np.ndarray], pad_multiple: int,
) -> Plan:  # fmt: skip
    graph = sm.graph
    (h1, _), (h2, w2) = PROBE_SIZES
    shapes = {n: tuple(np.shape(v)) for n, v in probe[1].items()}
    dtypes = {n: np.asarray(v).dtype for n, v in probe[1].items()}
    scale: dict[str, Fraction] = {}
    for name, value in probe[1].items():
        a, b = np.shape(probe[0][name]), np.shape(value)
        if len(b) >= 3 and len(a) == len(b) and a[2] != b[2] and Fraction(h1, a[2]) == Fraction(h2, b[2]):
            scale[name] = Fraction(h2, b[2])
    graph_inputs = [i.name for i in graph.input if i.name not in init_values]
    kind: dict[str, str] = {n: "global" for n in graph_inputs}  # global | free | data
    kind.update({n: "data" for n in strip_inputs})
    kind.update({n: "free" for n in proxies})
    level: dict[str, int] = {n: 0 for n in strip_inputs}
    producer: dict[str, Any] = {}
    for node in graph.node:
        ins = [i for i in node.input if i and i not in init_values]
        kinds = {kind[i] for i in ins}
        k = "data" if "data" in kinds else "free" if "free" in kinds else "global"
        if k == "data":
            spatial_in = [i for i in ins if i in scale]
            if spatial_in:
                check_local(node, spatial_in, init_values)
            lvl = max(level[i] for i in ins if kind[i] == "data") + int(node.name.endswith(APPLY_SUFFIX))
        for o in node.output:
            kind[o], producer[o] = k, node
            if k == "data":
                level[o] = lvl
    output = graph.output[0].name
    if output not in scale:
        raise TilingError(f"cannot tile: output {output!r} does not follow the image's size")
    last = max(level.values())
    consumers: dict[str, list[object]] = {}
    for node in graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)
    align = pad_multiple
    for s in scale.values():
        align = math.lcm(align, s.numerator)
    segments = []
    for lvl in range(last + 1):
        seg = _segment(sm, lvl, last, output, kind, level, scale, producer, consumers, init_values)
        seg.radius = _radius(seg, scale, shapes, {**probe[1], **init_values}, align)
        seg.bytes_per_pixel = sum(
            np.asarray(probe[1][t]).nbytes for t in _touched(seg, producer) if t in scale
        ) / (h2 * w2)
        seg.model = sub_model(sm, seg.nodes, seg.inputs, seg.outputs, dtypes)
        segments.append(seg)
    bpp = sum(np.asarray(probe[1][t]).nbytes for t in scale if kind.get(t) == "data") / (h2 * w2)
    made = [n for n in graph.node if kind[n.output[0]] == "global"]
    needed = sorted(
        {i for seg in segments for i in seg.inputs if kind.get(i) == "global"} - set(graph_inputs)
    )
    made_names = {o for n in made for o in n.output}
    global_in = sorted(
        {i for n in made for i in n.input if i and i not in made_names and i not in init_values}
    )
    plan = Plan(segments, norms, scale, {t: shapes[t][1] for t in scale}, strip_inputs,
                [n for n in graph_inputs if kind[n] == "global" and not n.startswith("nst_in_")],
                needed, proxies, align, output, one_pass_bytes_per_pixel=bpp, stats_model=sm)  # fmt: skip
    plan.global_inputs_used = global_in
    if needed:
        plan.global_model = sub_model(sm, made, global_in, needed, dtypes)
    plan.dtypes = dtypes
    return plan


def _segment(sm: Any, lvl: int, last: int, output: str, kind: dict, level: dict, scale: dict,
             producer: dict, consumers: dict, init_values: dict) -> Segment:  # fmt: skip
    graph = sm.graph
    own = [n for n in graph.node if any(level.get(o) == lvl and kind[o] == "data" for o in n.output)]
    produced = {o for n in own for o in n.output}
    outputs = []
    for t in sorted(produced, key=list(produced).index):
        later = any(any(level.get(o, -1) > lvl for o in c.output) for c in consumers.get(t, []))
        if later or t == output:
            if t not in scale:
                raise TilingError(f"cannot tile: shape value {t!r} crosses a norm layer")
            outputs.append(t)
    needed, free_nodes = set(), []
    stack = [i for n in own for i in n.input]
    while stack:  # pull in the shape-only (proxy) computations these nodes read
        t = stack.pop()
        if t in needed or not t or t in init_values:
            continue
        needed.add(t)
        if kind.get(t) == "free" and t in producer and producer[t] not in free_nodes:
            free_nodes.append(producer[t])
            stack.extend(producer[t].input)
    chosen = {id(n) for n in own + free_nodes}
    nodes = [n for n in graph.node if id(n) in chosen]
    made = {o for n in nodes for o in n.output}
    inputs = sorted({i for n in nodes for i in n.input if i and i not in made and i not in init_values})
    seg = Segment(lvl, inputs, outputs, 0)
    seg.nodes = nodes
    return seg


def _touched(seg: Segment, producer: dict) -> set[str]:
    return set(seg.inputs) | {o for n in seg.nodes for o in n.output}


def _radius(seg: Segment, scale: dict, shapes: dict, values: dict, align: int) -> int:
    reach: dict[str, Fraction] = {t: Fraction(0) for t in seg.inputs}
    for node in seg.nodes:
        spatial = [i for i in node.input if i in scale]
        base = max((reach.get(i, Fraction(0)) for i in spatial), default=Fraction(0))
        s = scale[spatial[0]] if spatial else Fraction(1)
        op = node.op_type
        extent = Fraction(0)
        if op in WINDOW:
            extent = window_extent(node, shapes, s)
        elif op in {"Resize", "Upsample"}:
            extent = 2 * s
        elif op in {"DepthToSpace", "SpaceToDepth"}:
            extent = s * next((a.i for a in node.attribute if a.name == "blocksize"), 1)
        elif op == "Pad":
            pads = values.get(node.input[1]) if len(node.input) > 1 else None
            if pads is None:
                pads = np.array(next((list(a.ints) for a in node.attribute if a.name == "pads"), [0] * 8))
            extent = s * int(np.max(np.abs(pads))) if np.size(pads) else Fraction(0)
        for o in node.output:
            reach[o] = base + extent
    worst = max((reach.get(o, Fraction(0)) for o in seg.outputs), default=Fraction(0))
    return math.ceil(worst / align) * align
