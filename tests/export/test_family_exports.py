"""Export contracts of the style-swap and super-resolution families (no ONNX export here:
the end-to-end export + validation runs in tests/train/test_styleswap.py and test_sr.py)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from nst.contract.spec import ExportSpec
from nst.export.onnx_export import dynamic_shapes
from nst.train.models import build_model

FAMILIES = {
    "styleswap": {"base_channels": 4},
    "sr": {"scale": 4, "channels": 4, "num_residual": 1},
}


def _model(family: str) -> Any:  # a family net: export_spec, example_inputs
    return build_model(family, FAMILIES[family]).eval()


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_spec_round_trips_through_metadata_json(family: str) -> None:
    spec = _model(family).export_spec()
    assert ExportSpec.from_json(spec.to_json()) == spec
    assert spec.family == family


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_example_inputs_follow_the_spec(family: str) -> None:
    model = _model(family)
    spec = model.export_spec()
    g = torch.Generator().manual_seed(0)
    for n, h, w in spec.validation_sizes:
        feeds = model.example_inputs(n, h, w, g)
        assert list(feeds) == [t.name for t in spec.inputs]
        for tensor, value in zip(spec.inputs, feeds.values(), strict=True):
            assert len(tensor.shape) == value.ndim
            assert all(d == s for d, s in zip(tensor.shape, value.shape, strict=True) if isinstance(d, int))
            assert min(value.shape[2:]) >= spec.min_size
            assert float(value.min()) >= 0.0 and float(value.max()) <= 1.0
        with torch.no_grad():
            out = model(*feeds.values())
        assert out.shape[:2] == (n, 3)


def test_styleswap_style_axes_are_independent_dims() -> None:
    dims = dynamic_shapes(_model("styleswap").export_spec())
    assert set(dims) == {"image", "style"}
    assert set(dims["style"]) == {2, 3}  # batch of the style is fixed at 1
    names = {str(d) for d in (*dims["image"].values(), *dims["style"].values())}
    assert len(names) == 5  # batch, height, width, style_height, style_width


def test_sr_output_axes_are_named_apart_from_the_input() -> None:
    spec = _model("sr").export_spec()
    assert spec.outputs[0].name == "upscaled"
    assert spec.outputs[0].shape[2:] == ("out_height", "out_width")
    assert set(dynamic_shapes(spec)) == {"image"}
