"""FP16 conversion keeps range-sensitive ops in FP32 and stays close to FP32."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from nst.calibration.fp16 import RANGE_SENSITIVE_OPS, convert_fp16, fp16_block_list
from nst.errors import OutputExistsError

F32, F16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16


def _dtypes(proto: onnx.ModelProto) -> dict[str, int]:
    """Element type of every tensor of the graph that shape inference can name."""
    inferred = onnx.shape_inference.infer_shapes(proto)
    values = [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
    types = {v.name: v.type.tensor_type.elem_type for v in values}
    types.update({i.name: i.data_type for i in proto.graph.initializer})
    return types


def test_fp16_keeps_instance_norm_in_float32(tiny_onnx: Path, tmp_path: Path) -> None:
    result = convert_fp16(tiny_onnx, tmp_path / "m.fp16.onnx")
    proto = onnx.load(str(result.path))
    types = _dtypes(proto)
    norms = [n for n in proto.graph.node if n.op_type == "InstanceNormalization"]
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    assert norms and convs
    for node in norms:  # input, scale, bias and output all float32
        assert {types[t] for t in [*node.input, *node.output]} == {F32}, node.name
    for node in convs:  # the heavy ops do run in float16
        assert types[node.input[1]] == F16, node.name
    assert result.details["blocked_ops"] == ["InstanceNormalization"]
    assert result.psnr_db > 40.0
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["nst.precision"] == "fp16" and props["nst.family"] == "johnson"
    assert proto.graph.input[0].type.tensor_type.elem_type == F32  # keep_io_types default


def test_fp16_io_option_makes_float16_inputs(tiny_onnx: Path, tmp_path: Path) -> None:
    result = convert_fp16(tiny_onnx, tmp_path / "io16.onnx", keep_io_types=False)
    proto = onnx.load(str(result.path))
    assert proto.graph.input[0].type.tensor_type.elem_type == F16
    assert result.psnr_db > 35.0


def test_block_list_extends_ort_defaults() -> None:
    blocked = fp16_block_list(["Tanh"])
    assert set(RANGE_SENSITIVE_OPS) <= set(blocked) and "Tanh" in blocked
    assert len(blocked) == len(set(blocked))


def test_existing_output_needs_force(tiny_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "exists.onnx"
    out.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError, match="already exists; use --force"):
        convert_fp16(tiny_onnx, out)
    assert out.read_bytes() == b"keep me"
