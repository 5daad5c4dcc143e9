"""INT8 Q/DQ of every family with Conv: the layout TensorRT needs, a real TensorRT-RTX build
(no GPU needed: the builder compiles for SM 8.6 ahead of time), and ONNX Runtime CPU output
close to FP32."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from nst.calibration.artifact import compare
from nst.calibration.feeds import ModelFeeds
from nst.calibration.int8 import Int8Options, quantize_int8
from nst.calibration.source import CalibrationMethod, ImageFolderSource
from nst.contract.metadata import ModelMetadata
from tests.calibration.conftest import TINY_FAMILIES

#: Their FP32 graph may not parse in TensorRT yet (style-swap's patch correlation is a Conv
#: whose weights are computed at run time; its graph is being redesigned). Where the FP32
#: model does not build, the INT8 test skips; where it does, INT8 must build too.
FP32_MAY_FAIL = {"styleswap"}
pytestmark = pytest.mark.slow  # exports six tiny nets (~1 min on 2 cores)
FAMILIES = sorted(TINY_FAMILIES)
MIN_PSNR_DB = 20.0  # random-weight nets: noise-like outputs, heavier-tailed than trained ones
PROFILE_SIDES = (32, 64, 96)  # min / opt / max H = W of the optimisation profile


@pytest.fixture(scope="module")
def int8_family(
    family_onnx: Callable[[str], Path], calib_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], tuple[Path, Path, Any]]:
    """``make(family) -> (fp32 path, int8 path, ConversionResult)``, once per family."""
    made: dict[str, tuple[Path, Path, Any]] = {}

    def make(family: str) -> tuple[Path, Path, Any]:
        if family not in made:
            fp32 = family_onnx(family)
            source = ImageFolderSource(calib_dir, size=32, limit=4)
            out = tmp_path_factory.mktemp(f"int8-{family}") / f"{family}.int8.onnx"
            options = Int8Options(method=CalibrationMethod.MINMAX, min_psnr=MIN_PSNR_DB)
            made[family] = (fp32, out, quantize_int8(fp32, out, source, options))
        return made[family]

    return make


def _spec(path: Path) -> Any:
    proto = onnx.load(str(path), load_external_data=False)
    return ModelMetadata.from_props({p.key: p.value for p in proto.metadata_props}).spec


def assert_trt_qdq_layout(proto: onnx.ModelProto) -> None:
    """The rules TensorRT's strongly typed parser needs, checked from the graph itself."""
    inits = {i.name: i for i in proto.graph.initializer}
    consumers: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for node in proto.graph.node:
        for k, name in enumerate(node.input):
            consumers.setdefault(name, []).append((node, k))
    assert next(o.version for o in proto.opset_import if o.domain == "") >= 13
    qs = [n for n in proto.graph.node if n.op_type == "QuantizeLinear"]
    dqs = [n for n in proto.graph.node if n.op_type == "DequantizeLinear"]
    assert qs and dqs
    for q in qs:  # activations: signed INT8, zero point 0, scalar scale
        zero = inits[q.input[2]]
        assert zero.data_type == onnx.TensorProto.INT8 and not numpy_helper.to_array(zero).any()
        assert numpy_helper.to_array(inits[q.input[1]]).shape == ()
    for dq in dqs:
        uses = consumers[dq.output[0]]
        assert {c.op_type for c, _ in uses} == {"Conv"}, dq.name  # nothing on Add, Mul, Pad, norms ...
        assert all(k in (0, 1) for _, k in uses), f"{dq.name} feeds a Conv bias"
        if dq.input[0] in inits:  # weights: int8, one scale per output channel along axis 0
            weight = inits[dq.input[0]]
            assert weight.data_type == onnx.TensorProto.INT8
            assert [a.i for a in dq.attribute if a.name == "axis"] == [0]
            assert list(inits[dq.input[1]].dims) == [weight.dims[0]]
            assert all(k == 1 for _, k in uses)
    dq_out = {d.output[0] for d in dqs}
    for conv in (n for n in proto.graph.node if n.op_type == "Conv" and n.input[0] in dq_out):
        assert conv.input[1] in dq_out  # an INT8 conv has INT8 weights
        if len(conv.input) > 2:  # and a float bias
            assert inits[conv.input[2]].data_type == onnx.TensorProto.FLOAT
    for node in proto.graph.node:
        if node.op_type in ("Add", "Mul", "InstanceNormalization", "Resize", "Pad"):
            assert not set(node.input) & dq_out, node.name


@pytest.mark.parametrize("family", FAMILIES)
def test_qdq_layout_is_what_tensorrt_takes(family: str, int8_family: Callable[..., Any]) -> None:
    _, int8, result = int8_family(family)
    proto = onnx.load(str(int8))
    assert_trt_qdq_layout(proto)
    quantized = set(result.details["quantized_nodes"])
    convs = [n.name for n in proto.graph.node if n.op_type == "Conv"]
    assert quantized and quantized <= set(convs)
    assert {convs[0], convs[-1]} & quantized == set()  # default: first and last conv float


def _profile_shapes(path: Path) -> dict[str, tuple[tuple[int, ...], ...]]:
    """min/opt/max shape of every input, from feeds made as for calibration at three sizes."""
    feeds = ModelFeeds([], _spec(path))
    made = [feeds.complete({"image": np.zeros((1, 3, s, s), np.float32)}, 0) for s in PROFILE_SIDES]
    return {name: tuple(f[name].shape for f in made) for name in made[0]}


def trt_build(path: Path) -> tuple[bool, list[str]]:
    """Parse and build ``path`` with TensorRT-RTX for SM 8.6; (built, parser errors)."""
    trt = pytest.importorskip("tensorrt_rtx")
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # strongly typed: precision comes from the Q/DQ
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(path)):
        return False, [str(parser.get_error(i)) for i in range(parser.num_errors)]
    config = builder.create_builder_config()
    config.num_compute_capabilities = 1
    config.set_compute_capability(trt.ComputeCapability.SM86, 0)
    profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in _profile_shapes(path).items():
        profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(profile)
    return builder.build_serialized_network(network, config) is not None, []


@pytest.mark.parametrize("family", FAMILIES)
def test_int8_builds_with_tensorrt_rtx(family: str, int8_family: Callable[..., Any]) -> None:
    pytest.importorskip("tensorrt_rtx")
    fp32, int8, _ = int8_family(family)
    if family in FP32_MAY_FAIL:
        built, errors = trt_build(fp32)
        if not built:
            pytest.skip(f"the FP32 {family} graph does not build in TensorRT-RTX: {errors[:1]}")
    built, errors = trt_build(int8)
    assert built, errors


@pytest.mark.parametrize("family", FAMILIES)
def test_int8_runs_on_ort_cpu_close_to_fp32(
    family: str, int8_family: Callable[..., Any], heldout_dir: Path
) -> None:
    fp32, int8, result = int8_family(family)
    assert result.psnr_db >= MIN_PSNR_DB  # on calibration feeds, checked by quantize_int8
    held_out = ModelFeeds(ImageFolderSource(heldout_dir, size=(40, 52)), _spec(fp32))
    assert compare(fp32, int8, held_out, MIN_PSNR_DB) >= MIN_PSNR_DB  # odd, unseen size
