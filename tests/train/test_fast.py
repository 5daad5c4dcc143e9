"""The johnson ``variant=fast`` layout: any size, only 3-channel tensors at full resolution,
exports with dynamic H/W and InstanceNormalization nodes, builds a TensorRT-RTX engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from nst.errors import InputError
from nst.export.onnx_export import onnx_from_module
from nst.export.validate import validate_onnx
from nst.train.models import build_model
from nst.train.models.fast import count_macs_per_pixel
from nst.train.models.johnson import JohnsonConfig, JohnsonNet
from tests.runtime.trt.tiny import SM86, requires_rtx

TINY = {"base_channels": 4, "num_residual": 1, "variant": "fast"}


@pytest.mark.parametrize("shape", [(1, 3, 97, 131), (2, 3, 16, 17), (1, 3, 64, 64)])
def test_any_size_in_same_size_out_in_unit_range(shape: tuple[int, ...]) -> None:
    net = build_model("johnson", TINY).eval()
    with torch.no_grad():
        out = net(torch.rand(*shape))
    assert out.shape == shape and out.min() >= 0 and out.max() <= 1


def test_fast_layout_keeps_full_resolution_tensors_at_three_channels() -> None:
    net = JohnsonNet(JohnsonConfig(base_channels=24, num_residual=5, variant="fast")).eval()
    full: list[tuple[str, int]] = []

    def hook(module: nn.Module, _inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        if out.shape[-1] >= 64:  # full resolution (the stem's reflect pad: 72 x 72)
            full.append((type(module).__name__, out.shape[1]))

    handles = [m.register_forward_hook(hook) for m in net.modules() if not list(m.children())]
    with torch.no_grad():
        net(torch.rand(1, 3, 64, 64))
    for h in handles:
        h.remove()
    assert full == [("ReflectionPad2d", 3), ("PixelShuffle", 3)]  # the stem's input pad and the head
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert (convs[0].kernel_size, convs[0].stride) == ((9, 9), (2, 2))
    assert len(net.residuals) == 5 and net.residuals[0].body[0][1].in_channels == 48
    assert all(isinstance(m, nn.InstanceNorm2d) for m in net.modules() if "Norm" in type(m).__name__)
    # ~18K multiply-adds per pixel, against ~42K for the slim paper layout 16/5
    assert 17e3 < count_macs_per_pixel(net, 64, 64) < 19e3
    paper = build_model("johnson", {"base_channels": 16, "num_residual": 5})
    assert 40e3 < count_macs_per_pixel(paper, 64, 64) < 45e3


def test_unknown_variant_is_an_error() -> None:
    with pytest.raises(InputError, match=r"unknown johnson variant 'fats'.*did you mean 'fast'"):
        JohnsonConfig(variant="fats")


def test_exports_dynamic_with_instance_norm_and_matches_torch(tmp_path: Path) -> None:
    net = build_model("johnson", TINY).eval()
    spec = net.export_spec()
    proto = onnx_from_module(net, spec)
    ops = {n.op_type for n in proto.graph.node}
    assert {"InstanceNormalization", "DepthToSpace", "Conv"} <= ops and "ConvTranspose" not in ops
    path = tmp_path / "fast.onnx"
    onnx.save(proto, str(path))
    checks = validate_onnx(net, path, spec, sizes=((1, 97, 131), (2, 33, 51), (1, 16, 16)))
    assert max(c.max_abs_diff for c in checks) < 1e-4


@requires_rtx
@pytest.mark.slow
def test_fast_variant_builds_a_tensorrt_rtx_engine(tmp_path: Path) -> None:
    from nst.runtime.trt.build import build_engine
    from nst.runtime.trt.config import EngineConfig, read_model
    from tests.runtime.trt.families import export_family, small_profile

    model = export_family("johnson", tmp_path / "fast.onnx", TINY)
    spec = read_model(model).metadata.spec
    config = EngineConfig(compute_capabilities=SM86, profiles=(small_profile(spec),))
    result = build_engine(model, tmp_path / "fast.plan", config)
    assert result.size_bytes > 100_000 and result.sidecar.model_metadata["nst.family"] == "johnson"
    assert np.dtype(result.sidecar.io_dtypes["image"]) == np.float32
