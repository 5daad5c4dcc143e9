"""INT8 QDQ quantization: Q/DQ on the expected nodes, excluded nodes stay float."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from nst.calibration.int8 import DEFAULT_EXCLUDE, Int8Options, quantize_int8, quantized_nodes, select_nodes
from nst.calibration.source import CalibrationMethod, ImageFolderSource
from nst.errors import CalibrationError, InputError


@pytest.fixture(scope="module")
def int8_model(tiny_onnx: Path, calib_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    source = ImageFolderSource(calib_dir, size=32)
    calls: list[int] = []
    out = tmp_path_factory.mktemp("int8") / "m.int8.onnx"
    result = quantize_int8(tiny_onnx, out, source, on_feed=lambda: calls.append(1))
    return result, onnx.load(str(out)), len(calls)


def _weight_producer(proto: onnx.ModelProto, node: onnx.NodeProto) -> str:
    """'initializer' if the weight input is a float initializer, else the producing op type."""
    if node.input[1] in {i.name for i in proto.graph.initializer}:
        return "initializer"
    return next(n.op_type for n in proto.graph.node if node.input[1] in n.output)


def test_qdq_on_middle_convs_float_on_first_and_last(int8_model) -> None:
    result, proto, _ = int8_model
    ops = [n.op_type for n in proto.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    assert len(convs) == 8  # 3 encoder + 2 in the one residual block + 2 upsampling + output
    producers = [_weight_producer(proto, c) for c in convs]
    assert producers[0] == producers[-1] == "initializer"  # first and last conv stay float
    assert set(producers[1:-1]) == {"DequantizeLinear"}  # every other conv has INT8 weights
    quantized = set(result.details["quantized_nodes"])
    assert {c.name for c in convs} & quantized == {c.name for c in convs[1:-1]}
    assert {n.op_type for n in proto.graph.node if n.name in quantized} >= {"Conv", "Pad"}
    excluded = set(result.details["excluded_nodes"])
    assert {convs[0].name, convs[-1].name} <= excluded
    norms = [n for n in proto.graph.node if n.op_type == "InstanceNormalization"]
    assert norms and {n.name for n in norms} <= excluded
    for norm in norms:  # scale and bias stay float32 initializers
        assert all(i in {t.name for t in proto.graph.initializer} for i in norm.input[1:])


def test_metadata_and_accuracy(int8_model) -> None:
    result, proto, calls = int8_model
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["nst.precision"] == "int8" and props["nst.family"] == "johnson" and "nst.io" in props
    assert result.details["method"] == "percentile" and result.details["calibration_images"] == 6
    assert calls >= 6  # the progress callback saw every calibration image
    assert result.psnr_db > 20.0


def test_select_nodes_patterns(tiny_onnx: Path) -> None:
    proto = onnx.load(str(tiny_onnx))
    convs = [n.name for n in proto.graph.node if n.op_type == "Conv"]
    assert select_nodes(proto, ["@first-conv"]) == convs[:1]
    assert select_nodes(proto, ["@last-conv"]) == convs[-1:]
    assert select_nodes(proto, ["decoder.2.*"]) == convs[-1:]  # by PyTorch module path
    assert select_nodes(proto, ["op:Conv"]) == convs
    norms = [n.name for n in proto.graph.node if n.op_type == "InstanceNormalization"]
    assert set(select_nodes(proto, DEFAULT_EXCLUDE)) == {convs[0], convs[-1], *norms}


def test_unknown_pattern_raises_with_a_hint(tiny_onnx: Path) -> None:
    proto = onnx.load(str(tiny_onnx))
    with pytest.raises(InputError, match=r"matches no node; did you mean 'decoder\.2\.1\.weight'"):
        select_nodes(proto, ["decoder.2.1.weigth"])


def test_custom_exclude_quantizes_everything_else(tiny_onnx: Path, calib_dir: Path, tmp_path: Path) -> None:
    source = ImageFolderSource(calib_dir, size=32, limit=3)
    options = Int8Options(method=CalibrationMethod.MINMAX, exclude=("op:InstanceNormalization",))
    result = quantize_int8(tiny_onnx, tmp_path / "all.onnx", source, options)
    proto = onnx.load(str(result.path))
    convs = [n.name for n in proto.graph.node if n.op_type == "Conv"]
    assert [n for n in quantized_nodes(proto) if n in convs] == convs
    assert result.details["method"] == "minmax"


def test_failed_validation_leaves_no_model(tiny_onnx: Path, calib_dir: Path, tmp_path: Path) -> None:
    source = ImageFolderSource(calib_dir, size=32, limit=2)
    out = tmp_path / "bad.onnx"
    with pytest.raises(CalibrationError, match=r"dB PSNR from FP32 \(< 500 dB\)"):
        quantize_int8(tiny_onnx, out, source, Int8Options(min_psnr=500.0))
    assert not out.exists()


def test_sensitivity_sweep_covers_every_conv(tiny_onnx: Path, calib_dir: Path, heldout_dir: Path) -> None:
    from nst.calibration.sensitivity import conv_sensitivity

    source = ImageFolderSource(calib_dir, size=32, limit=2)
    evaluation = ImageFolderSource(heldout_dir, size=32, limit=1)
    all_int8, rows = conv_sensitivity(tiny_onnx, source, evaluation, CalibrationMethod.MINMAX)
    proto = onnx.load(str(tiny_onnx))
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    assert [r.node for r in rows] == [c.name for c in convs]
    assert [r.weight for r in rows] == [c.input[1] for c in convs]
    assert all(r.gain_db == pytest.approx(r.psnr_db - all_int8) for r in rows)
    assert all_int8 > 15.0


def test_entropy_really_searches_a_threshold(
    tiny_onnx: Path, calib_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ORT's quantize_static entropy (128 bins) equals min/max; nst's histogram has more bins
    than quantized bins, so the KL search has candidates and clips some tensors."""
    from nst.calibration import int8

    monkeypatch.setattr(int8, "ENTROPY_BINS", 384)  # 2048 in use; 384 keeps the KL search short
    import numpy as np
    from onnxruntime.quantization.calibrate import load_tensors_data

    from nst.calibration.int8 import calibrate_ranges

    source = ImageFolderSource(calib_dir, size=32, limit=2)
    spans = {}
    for method in (CalibrationMethod.MINMAX, CalibrationMethod.ENTROPY):
        cache = tmp_path / f"{method.value}.json"
        calibrate_ranges(tiny_onnx, source, method, cache)
        data = load_tensors_data(cache)
        spans[method] = {k: float(np.ptp(np.ravel(data[k].range_value))) for k in data}
    minmax, entropy = spans[CalibrationMethod.MINMAX], spans[CalibrationMethod.ENTROPY]
    assert minmax.keys() == entropy.keys() and len(minmax) > 10
    assert all(entropy[k] <= minmax[k] + 1e-6 for k in minmax)  # never wider than the data
    assert sum(entropy[k] < 0.9 * minmax[k] for k in minmax) >= 1  # and clips somewhere
