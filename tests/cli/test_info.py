"""``nst info`` on ONNX files nst did not export, and ``describe_model`` on both kinds."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nst.cli.main import app
from nst.errors import ModelError
from nst.runtime.registry import GraphTensor, describe_model, onnx_header
from nst.runtime.stylizer import default_model_path

cli = CliRunner()


def plain_onnx(path: Path) -> Path:
    """A Relu graph with a named, an unnamed and a fixed dim, an int64 input, no nst metadata."""
    import onnx
    from onnx import TensorProto, helper

    shape = ["batch", 3, None, 224]
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Identity", ["k"], ["k_out"])], "plain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape),
         helper.make_tensor_value_info("k", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape),
         helper.make_tensor_value_info("k_out", TensorProto.INT64, [2])],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pytorch",
                              producer_version="2.3.1")  # fmt: skip
    model.ir_version = 9
    model.metadata_props.add(key="author", value="someone")
    onnx.save(model, str(path))
    return path


def test_describe_model_reads_any_onnx_graph(tmp_path: Path) -> None:
    d = describe_model(plain_onnx(tmp_path / "plain.onnx"))
    assert d.metadata is None and d.opset == 17 and d.producer == "pytorch 2.3.1" and d.details == {}
    assert d.inputs == (GraphTensor("x", "float32", ("batch", 3, None, 224)), GraphTensor("k", "int64", (2,)))
    assert [t.name for t in d.outputs] == ["y", "k_out"]


def test_describe_model_of_an_nst_model_keeps_its_metadata() -> None:
    d = describe_model(default_model_path())
    assert d.metadata is not None and d.metadata.family
    assert [t.name for t in d.inputs] == [t.name for t in d.metadata.spec.inputs]
    assert d.opset == onnx_header(default_model_path())["opset"] and d.opset is not None


def test_info_shows_a_plain_onnx_file(tmp_path: Path) -> None:
    model = plain_onnx(tmp_path / "plain.onnx")
    result = cli.invoke(app, ["info", str(model)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "producer: pytorch 2.3.1" in lines[1] and "opset: 17" in lines[2]
    assert lines[3].strip() == "input: x float32[batch, 3, ?, 224]"
    assert "nst metadata: none" in result.output
    result = cli.invoke(app, ["info", str(model), "--json"])
    data = json.loads(result.output)
    assert data["nst_metadata"] is False and data["opset"] == 17
    assert data["inputs"][0] == {"name": "x", "shape": ["batch", 3, None, 224], "dtype": "float32"}
    assert data["outputs"][1] == {"name": "k_out", "shape": [2], "dtype": "int64"}


def test_info_of_the_bundled_model_is_unchanged() -> None:
    result = cli.invoke(app, ["info", "--json"])
    data = json.loads(result.output)
    assert "nst_metadata" not in data and data["family"] and data["inputs"][0]["range"] == [0.0, 1.0]
    text = cli.invoke(app, ["info"]).output.splitlines()
    assert [line.split(":")[0].strip() for line in text[:7]] == [
        "model", "family", "styles", "version", "opset", "min_size", "pad_multiple"]  # fmt: skip


def test_broken_nst_metadata_is_still_an_error(tmp_path: Path) -> None:
    import onnx

    model = onnx.load(str(plain_onnx(tmp_path / "m.onnx")))
    model.metadata_props.add(key="nst.family", value="johnson")
    onnx.save(model, str(tmp_path / "m.onnx"))
    with pytest.raises(ModelError, match="has no nst metadata"):
        describe_model(tmp_path / "m.onnx")


def test_onnx_header_of_a_non_model_is_empty(tmp_path: Path) -> None:
    (tmp_path / "x.onnx").write_bytes(b"\xff\xff\xff")
    assert onnx_header(tmp_path / "x.onnx") == {}
