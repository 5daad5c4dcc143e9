"""Tiny hand-built ONNX models with nst metadata (no torch, no training): fast fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nst.contract.metadata import ModelMetadata
from nst.contract.spec import ExportSpec


def tiny_model(path: Path, *, qdq: bool = False, unsupported: bool = False, io_dtype: str = "float32",
               spec: ExportSpec | None = None) -> Path:  # fmt: skip
    """``image`` -> [Q/DQ] -> InstanceNormalization -> ReduceMean-free Sigmoid -> ``stylized``.

    Args:
        path: Where to save.
        qdq: Insert QuantizeLinear/DequantizeLinear after the input (an INT8 QDQ model).
        unsupported: Add a node of an unknown op (the fake TensorRT parser rejects it).
        io_dtype: ``float32`` or ``float16`` graph I/O (the FP16-model case; compute stays FP32).
        spec: ExportSpec written into the metadata (default: johnson's).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    elem = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16}[io_dtype]
    shape = ["batch", 3, "height", "width"]
    inits = [numpy_helper.from_array(np.ones(3, np.float32), "scale"),
             numpy_helper.from_array(np.zeros(3, np.float32), "bias")]  # fmt: skip
    nodes = [helper.make_node("Cast", ["image"], ["x32"], to=TensorProto.FLOAT, name="cast_in")]
    x = "x32"
    if qdq:
        inits += [numpy_helper.from_array(np.array(1 / 255, np.float32), "q_scale"),
                  numpy_helper.from_array(np.array(0, np.uint8), "q_zero")]  # fmt: skip
        qargs = ["q_scale", "q_zero"]
        nodes += [helper.make_node("QuantizeLinear", [x, *qargs], ["xq"], name="quant"),
                  helper.make_node("DequantizeLinear", ["xq", *qargs], ["xdq"], name="dq")]  # fmt: skip
        x = "xdq"
    nodes += [helper.make_node("InstanceNormalization", [x, "scale", "bias"], ["norm"], name="in1"),
              helper.make_node("Sigmoid", ["norm"], ["y32"], name="act1"),
              helper.make_node("Cast", ["y32"], ["stylized"], to=elem, name="cast_out")]  # fmt: skip
    if unsupported:
        nodes.append(helper.make_node("Unsupported", ["y32"], ["junk"], name="bad", domain="nst.test"))
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("image", elem, shape)],
        [helper.make_tensor_value_info("stylized", elem, shape)], initializer=inits,
    )  # fmt: skip
    opsets = [helper.make_opsetid("", 18)] + ([helper.make_opsetid("nst.test", 1)] if unsupported else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 9
    meta = ModelMetadata("johnson", ("swirl",), spec or ExportSpec(family="johnson"), "0.1.0", {})
    for key, value in meta.to_props().items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path
