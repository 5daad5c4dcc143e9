"""INT8 Q/DQ quantization: Q/DQ on the expected convs, excluded nodes stay float, ranges,
feeds for multi-input models, and the layout checker. The per-family TensorRT builds are in
test_int8_trt.py."""

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
    assert {n.op_type for n in proto.graph.node if n.name in quantized} == {"Conv"}  # Conv inputs only
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


def test_entropy_really_searches_a_threshold(tiny_onnx: Path, calib_dir: Path, tmp_path: Path) -> None:
    """Entropy (KL) thresholds never exceed max |x| and clip some tensors' tails."""
    from nst.calibration.int8 import calibrate_ranges
    from nst.calibration.ranges import load_thresholds

    source = ImageFolderSource(calib_dir, size=32, limit=2)
    spans = {}
    for method in (CalibrationMethod.MINMAX, CalibrationMethod.ENTROPY):
        cache = tmp_path / f"{method.value}.json"
        returned = calibrate_ranges(tiny_onnx, source, method, cache)
        spans[method] = load_thresholds(cache, method)
        assert spans[method] == pytest.approx(returned)
    minmax, entropy = spans[CalibrationMethod.MINMAX], spans[CalibrationMethod.ENTROPY]
    assert minmax.keys() == entropy.keys() and len(minmax) == 8  # the data input of every conv
    assert all(entropy[k] <= minmax[k] + 1e-6 for k in minmax)  # never wider than the data
    assert sum(entropy[k] < 0.9 * minmax[k] for k in minmax) >= 1  # and clips somewhere
    with pytest.raises(CalibrationError, match="holds minmax ranges, not entropy"):
        load_thresholds(tmp_path / "minmax.json", CalibrationMethod.ENTROPY)


def test_ranges_cache_is_reused(tiny_onnx: Path, calib_dir: Path, tmp_path: Path) -> None:
    """A second quantization with the same cache runs no calibration pass."""
    source = ImageFolderSource(calib_dir, size=32, limit=2)
    cache, calls = tmp_path / "ranges.json", []
    options = Int8Options(min_psnr=0.0)
    for name in ("a", "b"):
        quantize_int8(tiny_onnx, tmp_path / f"{name}.onnx", source, options, ranges_cache=cache,
                      on_feed=lambda: calls.append(1))  # fmt: skip
    assert len(calls) == 2 and cache.is_file()


def test_old_opset_is_refused(tiny_onnx: Path, calib_dir: Path, tmp_path: Path) -> None:
    proto = onnx.load(str(tiny_onnx))
    for entry in proto.opset_import:
        if entry.domain == "":
            entry.version = 12
    old = tmp_path / "opset12.onnx"
    onnx.save(proto, str(old))
    with pytest.raises(CalibrationError, match="needs opset >= 13, the model has 12"):
        quantize_int8(old, tmp_path / "out.onnx", ImageFolderSource(calib_dir, size=32, limit=1))
    assert not (tmp_path / "out.onnx").exists()


def test_checker_flags_what_tensorrt_refuses(tiny_onnx: Path, calib_dir: Path, tmp_path: Path) -> None:
    """ORT's default QDQ (uint8 activations, int32 bias DequantizeLinear, Q/DQ on every op),
    what nst wrote before, is refused by TensorRT's parser; the checker names each problem."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    from nst.calibration.qdq import check_qdq

    feeds = iter(ImageFolderSource(calib_dir, size=32, limit=2))

    class Reader(CalibrationDataReader):
        def get_next(self) -> dict | None:
            return next(feeds, None)

    out = tmp_path / "ort_default.onnx"
    quantize_static(str(tiny_onnx), str(out), Reader(), quant_format=QuantFormat.QDQ)
    problems = "\n".join(check_qdq(onnx.load(str(out))))
    assert "zero point must be an int8 initializer of zeros" in problems  # uint8 activations
    assert "weight" in problems and "must be int8" in problems  # the int32 bias
    assert "feeds Conv" in problems and "input 2" in problems  # ... as a Conv bias


def test_model_feeds_complete_every_family_input() -> None:
    import numpy as np

    from nst.calibration.feeds import ModelFeeds
    from nst.contract.spec import ExportSpec, TensorSpec, image_tensor

    image = np.random.default_rng(0).random((1, 3, 21, 30), dtype=np.float32)
    spec = ExportSpec("x", inputs=(
        image_tensor("image", ""), TensorSpec("style_weights", (3,)),
        TensorSpec("style_masks", ("batch", 3, "mh", "mw")), TensorSpec("style", (1, 3, "sh", "sw")),
        TensorSpec("noise_0", ("batch", 3, "h0", "w0")), TensorSpec("noise_1", ("batch", 3, "h1", "w1")),
    ))  # fmt: skip
    feeds = list(ModelFeeds([{"image": image}] * 4, spec))
    assert [list(f) for f in feeds[:1]] == [[t.name for t in spec.inputs]]
    assert [int(f["style_weights"].argmax()) for f in feeds] == [0, 1, 2, 0]  # every style calibrated
    assert feeds[1]["style_masks"].shape == (1, 3, 16, 16) and (feeds[1]["style_masks"][:, 1] == 1).all()
    assert feeds[0]["noise_0"].shape == (1, 3, 21, 30) and feeds[0]["noise_1"].shape == (1, 3, 11, 15)
    assert not np.array_equal(feeds[0]["noise_0"], feeds[1]["noise_0"])  # seeded per image
    np.testing.assert_array_equal(feeds[0]["style"], image[:, :, ::-1, ::-1])
    texture = ExportSpec("texture", inputs=spec.inputs[4:])
    assert list(next(iter(ModelFeeds([{"image": image}], texture)))) == ["noise_0", "noise_1"]
    odd = ExportSpec("x", inputs=(image_tensor("image", ""), TensorSpec("mystery", (2,))))
    with pytest.raises(CalibrationError, match="cannot make calibration values for input 'mystery'"):
        list(ModelFeeds([{"image": image}], odd))
