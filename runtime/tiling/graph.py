"""The ONNX side of exact tiling: instance norm with fed statistics, cut into segments.

:func:`stats_model` rewrites every ``InstanceNormalization`` into ``(x - mean) * a + bias``
where ``mean`` and ``var`` are new graph inputs (``a = scale / sqrt(var + eps)``), so the
statistics can come from anywhere: the whole image gathered strip by strip, or a thumbnail.
:func:`analyse` then cuts that graph at the norm layers: segment ``s`` computes, from the
tensors stored by earlier segments, every tensor ``s`` norm layers deep. Within a segment
every op is local (convolutions, pools, resizes, pointwise and channel ops), so it runs on
strips with a halo equal to its receptive radius; an op that mixes rows (reshape, spatial
reductions) is refused with its name. Uses the ``onnx`` package (the tiling path only).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from nst.errors import MissingDependencyError, ModelError

STATS_MEAN, STATS_VAR = "nst_in_mean_", "nst_in_var_"
PROXY = "nst_shape_"
APPLY_SUFFIX = "/nst_norm_apply"

POINTWISE = frozenset(
    [
        "Abs",
        "Add",
        "And",
        "BatchNormalization",
        "Cast",
        "Ceil",
        "Clip",
        "Div",
        "Elu",
        "Equal",
        "Erf",
        "Exp",
        "Expand",
        "Floor",
        "Greater",
        "HardSigmoid",
        "HardSwish",
        "Identity",
        "LeakyRelu",
        "Less",
        "Log",
        "Max",
        "Min",
        "Mish",
        "Mod",
        "Mul",
        "Neg",
        "Not",
        "Or",
        "PRelu",
        "Pow",
        "Reciprocal",
        "Relu",
        "Round",
        "Selu",
        "Sigmoid",
        "Sign",
        "Softplus",
        "Softsign",
        "Sqrt",
        "Sub",
        "Sum",
        "Tanh",
        "Where",
    ]
)
CHANNEL_AXIS = frozenset({"Concat", "Split", "Softmax", "LogSoftmax", "ArgMax", "ArgMin", "Gather"})
REDUCE = frozenset({"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2"})
WINDOW = frozenset({"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool"})


class TilingError(ModelError):
    """A model (or a choice made for it) that the exact tiling path cannot run."""


def onnx_module() -> Any:
    try:
        import onnx
    except ImportError as exc:
        raise MissingDependencyError(
            "tiling needs the onnx package; install it with: pip install 'onnx>=1.16'"
        ) from exc
    return onnx


def stats_model(model: Any) -> tuple[object, list[tuple[str, int]]]:
    """The model with every InstanceNormalization taking its mean/variance as inputs.

    Args:
        model: An ``onnx.ModelProto`` (not modified).

    Returns:
        (the rewritten ModelProto, [(pre-norm tensor name, channels) per norm layer]); norm
        layer ``k`` reads graph inputs ``nst_in_mean_k`` and ``nst_in_var_k`` of shape [C].
    """
    onnx = onnx_module()
    from onnx import TensorProto, helper, numpy_helper

    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inits = {i.name: i for i in graph.initializer}
    nodes: list[Any] = []
    norms: list[tuple[str, int]] = []
    for node in graph.node:
        if node.op_type != "InstanceNormalization":
            nodes.append(node)
            continue
        k = len(norms)
        x, scale, bias = node.input
        if scale not in inits or bias not in inits:
            raise TilingError(f"InstanceNormalization {node.name!r} has non-constant scale/bias")
        channels = int(numpy_helper.to_array(inits[scale]).size)
        eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
        p = f"nst_in{k}_"
        mean, var = f"{STATS_MEAN}{k}", f"{STATS_VAR}{k}"
        graph.input.extend(
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, [channels]) for n in (mean, var)]
        )
        graph.initializer.extend([
            numpy_helper.from_array(np.array([1, -1, 1, 1], np.int64), p + "shape4"),
            numpy_helper.from_array(np.array(eps, np.float32), p + "eps"),
        ])  # fmt: skip
        nodes += [
            helper.make_node("Add", [var, p + "eps"], [p + "var_eps"], name=p + "var_eps"),
            helper.make_node("Sqrt", [p + "var_eps"], [p + "std"], name=p + "std"),
            helper.make_node("Div", [scale, p + "std"], [p + "a"], name=p + "a"),
            helper.make_node("Reshape", [p + "a", p + "shape4"], [p + "a4"], name=p + "a4"),
            helper.make_node("Reshape", [mean, p + "shape4"], [p + "m4"], name=p + "m4"),
            helper.make_node("Reshape", [bias, p + "shape4"], [p + "b4"], name=p + "b4"),
            helper.make_node("Sub", [x, p + "m4"], [p + "centred"], name=p + APPLY_SUFFIX),
            helper.make_node("Mul", [p + "centred", p + "a4"], [p + "scaled"], name=p + "scaled"),
            helper.make_node("Add", [p + "scaled", p + "b4"], list(node.output), name=p + "shifted"),
        ]
        norms.append((x, channels))
    del graph.node[:]
    graph.node.extend(nodes)
    return out, norms


@dataclass
class Segment:
    """One cut of the graph: stored tensors in, the next stored tensors (or outputs) out."""

    level: int
    inputs: list[str]
    outputs: list[str]
    radius: int  # image rows of halo each side, a multiple of the alignment
    model: bytes = b""
    bytes_per_pixel: float = 0.0  # working set per image pixel (sum of its spatial tensors)
    nodes: list[Any] = field(default_factory=list, repr=False)


@dataclass
class Plan:
    """The analysed graph: what to store, at which scale, in which segments."""

    segments: list[Segment]
    norms: list[tuple[str, int]]
    scale: dict[str, Fraction]  # spatial tensor -> image rows per tensor row
    channels: dict[str, int]
    strip_inputs: list[str]  # graph inputs cut into strips (image, noise)
    global_inputs: list[str]  # graph inputs fed whole (style weights, masks, style image)
    globals_needed: list[str]  # non-spatial tensors computed once and fed to segments
    proxies: dict[str, tuple[str, int, int]]  # proxy input -> (graph input, start, end)
    align: int
    output: str
    global_model: bytes = b""
    one_pass_bytes_per_pixel: float = 0.0
    stats_model: Any = field(default=None, repr=False)
    dtypes: dict[str, Any] = field(default_factory=dict, repr=False)
    global_inputs_used: list[str] = field(default_factory=list)


def replace_input_shapes(model: Any, strip_inputs: Iterable[str]) -> dict[str, tuple[str, int, int]]:
    """Turn ``Shape(strip input)`` nodes into int64 graph inputs (their value per strip)."""
    from onnx import TensorProto, helper

    graph = model.graph
    strips = set(strip_inputs)
    proxies: dict[str, tuple[str, int, int]] = {}
    keep = []
    for node in graph.node:
        if node.op_type == "Shape" and node.input[0] in strips:
            attrs = {a.name: a.i for a in node.attribute}
            start, end = attrs.get("start", 0), attrs.get("end", 4)
            name = node.output[0]
            proxies[name] = (node.input[0], start, end)
            length = len(range(4)[start:end])
            graph.input.append(helper.make_tensor_value_info(name, TensorProto.INT64, [length]))
        else:
            keep.append(node)
    del graph.node[:]
    graph.node.extend(keep)
    return proxies


def window_extent(node: Any, shapes: dict[str, tuple[int, ...]], scale: Fraction) -> Fraction:
    """Image rows a window op (conv, pool) reaches beyond its output row, conservatively."""
    attrs = {a.name: list(a.ints) for a in node.attribute}
    # weights may be fed as a tensor (e.g. style-swap's patches): their shape gives the kernel
    kernel = attrs["kernel_shape"][0] if "kernel_shape" in attrs else shapes[node.input[1]][2]
    dilation = attrs.get("dilations", [1])[0]
    stride = attrs.get("strides", [1])[0]
    return scale * ((kernel - 1) * dilation + stride)


def check_local(node: Any, spatial_inputs: list[str], init_values: dict[str, np.ndarray]) -> None:
    """Raise unless ``node`` treats rows independently apart from a bounded window."""
    op = node.op_type
    name = node.name or node.output[0]
    attrs = {a.name: a for a in node.attribute}
    if op in POINTWISE or op in WINDOW or op in {"Pad", "Resize", "Upsample", "Slice", "Shape"}:
        return
    if op in {"DepthToSpace", "SpaceToDepth"}:
        return
    if op in CHANNEL_AXIS:
        axis = attrs["axis"].i if "axis" in attrs else (0 if op in {"Concat", "Split", "Gather"} else -1)
        if axis in (1, -3):
            return
        raise TilingError(f"cannot tile: {op} {name!r} works along axis {axis} of an image tensor")
    if op in REDUCE:
        axes = attrs["axes"].ints if "axes" in attrs else None
        if axes is None and len(node.input) > 1 and node.input[1] in init_values:
            axes = [int(a) for a in init_values[node.input[1]].ravel()]
        if axes is not None and not {int(a) % 4 for a in axes} & {2, 3}:
            return
        raise TilingError(f"cannot tile: {op} {name!r} reduces over image rows/columns")
    raise TilingError(f"cannot tile: {op} {name!r} mixes image rows (only local ops can run in strips)")
