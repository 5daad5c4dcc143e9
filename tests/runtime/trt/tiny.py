"""Tiny hand-built conv nets with nst metadata that TensorRT really builds, and the RTX marker.

``conv_model`` is image -> Conv -> InstanceNormalization -> Relu -> Conv -> Sigmoid, in four
variants: FP32; INT8 with explicit, TensorRT-style Q/DQ (signed symmetric int8 activations,
zero point 0, per-channel symmetric weights, float bias); one with an op no parser knows; and
(through nst's real FP16 conversion) FP16 with float16 I/O. Each builds with TensorRT-RTX for
SM86 in well under a second.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from nst.contract.metadata import ModelMetadata
from nst.contract.spec import ExportSpec

HAS_RTX = importlib.util.find_spec("tensorrt_rtx") is not None
#: Tests that build real engines: skipped only where tensorrt_rtx is absent (CI installs it).
requires_rtx = pytest.mark.skipif(
    not HAS_RTX, reason="tensorrt_rtx is not installed (pip install 'nst[trt-rtx]')"
)
SM86 = ("8.6",)


def _conv_weights(rng: np.random.Generator, cout: int, cin: int) -> np.ndarray:
    return (rng.standard_normal((cout, cin, 3, 3)) * 0.3).astype(np.float32)


def _qdq(name: str, x: str, scale: float) -> tuple[list, list, str]:
    """Q/DQ of an activation: signed int8, zero point 0."""
    from onnx import helper, numpy_helper

    inits = [numpy_helper.from_array(np.array(scale, np.float32), f"{name}_s"),
             numpy_helper.from_array(np.array(0, np.int8), f"{name}_z")]  # fmt: skip
    args = [f"{name}_s", f"{name}_z"]
    nodes = [
        helper.make_node("QuantizeLinear", [x, *args], [f"{name}_q"], name=f"{name}_quant"),
        helper.make_node("DequantizeLinear", [f"{name}_q", *args], [f"{name}_dq"], name=f"{name}_dq"),
    ]
    return inits, nodes, f"{name}_dq"


def _weight(name: str, w: np.ndarray, quantize: bool) -> tuple[list, list, str]:
    """A conv weight: float, or int8 per-channel symmetric through a DequantizeLinear (axis 0)."""
    from onnx import helper, numpy_helper

    if not quantize:
        return [numpy_helper.from_array(w, name)], [], name
    scale = (np.abs(w).reshape(len(w), -1).max(1) / 127).astype(np.float32)
    q = np.round(w / scale[:, None, None, None]).astype(np.int8)
    inits = [numpy_helper.from_array(q, f"{name}_q"), numpy_helper.from_array(scale, f"{name}_s"),
             numpy_helper.from_array(np.zeros(len(w), np.int8), f"{name}_z")]  # fmt: skip
    node = helper.make_node("DequantizeLinear", [f"{name}_q", f"{name}_s", f"{name}_z"], [f"{name}_dq"],
                            axis=0, name=f"{name}_dq")  # fmt: skip
    return inits, [node], f"{name}_dq"


def conv_model(path: Path, *, qdq: bool = False, unsupported: bool = False, spec: ExportSpec | None = None,
               family: str = "johnson") -> Path:  # fmt: skip
    """Save the tiny conv net (see the module docstring) with nst metadata at ``path``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(np.ones(4, np.float32), "in_scale"),
             numpy_helper.from_array(np.zeros(4, np.float32), "in_bias"),
             numpy_helper.from_array(np.zeros(4, np.float32), "b1"),
             numpy_helper.from_array(np.zeros(3, np.float32), "b2")]  # fmt: skip
    nodes: list = []
    x = "image"
    for i, (cout, cin) in enumerate([(4, 3), (3, 4)], start=1):
        if qdq:
            more, q_nodes, x = _qdq(f"a{i}", x, 1 / 127 if i == 1 else 4 / 127)
            inits, nodes = inits + more, nodes + q_nodes
        more, w_nodes, w = _weight(f"w{i}", _conv_weights(rng, cout, cin), qdq)
        inits, nodes = inits + more, nodes + w_nodes
        nodes.append(helper.make_node("Conv", [x, w, f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1], name=f"conv{i}"))
        x = f"c{i}"
        if i == 1:
            nodes += [
                helper.make_node("InstanceNormalization", [x, "in_scale", "in_bias"], ["n1"], name="in1"),
                helper.make_node("Relu", ["n1"], ["r1"], name="relu1"),
            ]
            x = "r1"
    last = "stylized" if not unsupported else "y"
    nodes.append(helper.make_node("Sigmoid", [x], [last], name="act"))
    opsets = [helper.make_opsetid("", 18)]
    if unsupported:
        nodes.append(helper.make_node("NoSuchOp", ["y"], ["stylized"], name="bad", domain="nst.test"))
        opsets.append(helper.make_opsetid("nst.test", 1))
    shape = ["batch", 3, "height", "width"]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("stylized", TensorProto.FLOAT, shape)], initializer=inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 9
    meta = ModelMetadata(family, ("swirl",), spec or ExportSpec(family=family), "0.1.0", {})
    for key, value in meta.to_props().items():
        model.metadata_props.add(key=key, value=value)
    if qdq:
        model.metadata_props.add(key="nst.precision", value="int8")
    onnx.save(model, str(path))
    return path


def fp16_model(fp32: Path, out: Path, *, fp16_io: bool = False) -> Path:
    """nst's own FP16 conversion of ``fp32`` (float16 graph I/O with ``fp16_io``)."""
    from nst.calibration.fp16 import convert_fp16

    feed = {"image": np.random.default_rng(0).random((1, 3, 32, 32), dtype=np.float32)}
    return convert_fp16(fp32, out, keep_io_types=not fp16_io, validation_feeds=[feed], force=True).path
