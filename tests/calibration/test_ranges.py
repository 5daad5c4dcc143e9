"""Threshold choice from |x| histograms (numpy only, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from nst.calibration.qdq import weight_qdq
from nst.calibration.ranges import entropy_threshold, percentile_threshold


def _hist(values: np.ndarray, bins: int) -> tuple[np.ndarray, float]:
    amax = float(np.abs(values).max())
    return np.histogram(np.abs(values), bins=bins, range=(0.0, amax))[0], amax


def test_percentile_ignores_rare_outliers() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.uniform(-1, 1, 200_000), [50.0]])  # one outlier stretches max |x|
    hist, amax = _hist(values, 2048)
    assert amax == 50.0
    assert percentile_threshold(hist, amax) == pytest.approx(1.0, abs=0.05)
    assert percentile_threshold(hist, amax, percentile=100.0) == pytest.approx(50.0)


def test_entropy_keeps_a_bounded_range_and_clips_a_long_tail() -> None:
    rng = np.random.default_rng(0)
    uniform, amax = _hist(rng.uniform(-1, 1, 100_000), 512)
    assert entropy_threshold(uniform, amax) > 0.9 * amax  # nothing to clip: (nearly) the full range
    laplace, amax = _hist(rng.laplace(0, 1, 100_000), 512)
    threshold = entropy_threshold(laplace, amax)
    assert 4.0 < threshold < 0.85 * amax  # heavy tail: the rarest values clipped, the bulk kept


def test_weights_per_channel_symmetric() -> None:
    w = np.stack([np.linspace(-1, 1, 18), np.linspace(-0.01, 0.02, 18), np.zeros(18)]).reshape(3, 2, 3, 3)
    q, scale = weight_qdq(w.astype(np.float32), per_channel=True)
    assert q.dtype == np.int8 and scale.shape == (3,)
    np.testing.assert_allclose(scale[:2], [1 / 127, 0.02 / 127], rtol=1e-6)
    assert scale[2] == 1.0 and not q[2].any()  # an all-zero channel: positive scale, zero values
    assert q.max() == 127 and q.min() >= -127  # symmetric: -128 never used
    np.testing.assert_allclose(q * scale[:, None, None, None], w, atol=scale.max() / 2 + 1e-7)
    _, s1 = weight_qdq(w.astype(np.float32), per_channel=False)
    assert s1.shape == () and float(s1) == pytest.approx(1 / 127)


def test_collect_thresholds_leaves_out_exact_zeros(tmp_path) -> None:
    """A ReLU's zeros do not drag the entropy threshold down (half-normal: ~4 sigma kept)."""
    import onnx
    from onnx import TensorProto, helper

    from nst.calibration.ranges import collect_thresholds
    from nst.calibration.source import CalibrationMethod

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [None])],
    )  # fmt: skip
    graph.node.append(helper.make_node("Identity", ["y"], ["out"]))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model)
    rng = np.random.default_rng(0)
    feeds = [{"x": rng.normal(0, 1, 50_000).astype(np.float32)} for _ in range(2)]
    minmax = collect_thresholds(model, ["y"], feeds, CalibrationMethod.MINMAX)["y"]
    entropy = collect_thresholds(model, ["y"], feeds, CalibrationMethod.ENTROPY, entropy_bins=512)["y"]
    percentile = collect_thresholds(model, ["y"], feeds, CalibrationMethod.PERCENTILE)["y"]
    assert minmax == pytest.approx(max(float(f["x"].max()) for f in feeds))
    assert 3.0 < entropy <= minmax and 3.5 < percentile <= minmax
