"""Export contracts of the style-swap and super-resolution families, and style-swap's
``strength`` input (the end-to-end train + export + validation runs in
tests/train/test_styleswap.py and test_sr.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
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
            assert value.ndim < 4 or min(value.shape[2:]) >= spec.min_size
            assert float(value.min()) >= 0.0 and float(value.max()) <= 1.0
        with torch.no_grad():
            out = model(*feeds.values())
        assert out.shape[:2] == (n, 3)


def test_styleswap_style_axes_are_independent_dims() -> None:
    dims = dynamic_shapes(_model("styleswap").export_spec())
    assert set(dims) == {"image", "style", "strength"}
    assert set(dims["style"]) == {2, 3}  # batch of the style is fixed at 1
    assert dims["strength"] == {}  # a fixed [1]
    names = {str(d) for d in (*dims["image"].values(), *dims["style"].values())}
    assert len(names) == 5  # batch, height, width, style_height, style_width


def test_sr_output_axes_are_named_apart_from_the_input() -> None:
    spec = _model("sr").export_spec()
    assert spec.outputs[0].name == "upscaled"
    assert spec.outputs[0].shape[2:] == ("out_height", "out_width")
    assert set(dynamic_shapes(spec)) == {"image"}


def test_styleswap_strength_trades_swapped_for_content_features() -> None:
    from nst.train.models.blocks import pad_to_multiple

    model = _model("styleswap")
    g = torch.Generator().manual_seed(1)
    image, style = torch.rand(2, 3, 37, 45, generator=g), torch.rand(1, 3, 33, 29, generator=g)
    with torch.no_grad():
        feats = model.encode(pad_to_multiple(image, 4))
        inverse = model.decoder(feats)[:, :, :37, :45]  # the inverse net of the content features
        full = model(image, style)
        np.testing.assert_allclose(model(image, style, torch.zeros(1)).numpy(), inverse.numpy(), atol=1e-5)
        np.testing.assert_allclose(model(image, style, torch.ones(1)).numpy(), full.numpy(), atol=1e-5)
        half = model.decoder(feats + 0.5 * (model.swap(feats, model.encode(style)) - feats))[:, :, :37, :45]
        np.testing.assert_allclose(
            model(image, style, torch.full((1,), 0.5)).numpy(), half.numpy(), atol=1e-5
        )


@pytest.mark.slow
def test_styleswap_export_takes_strength_at_odd_sizes(tmp_path: Path) -> None:
    import onnx
    import onnxruntime as ort

    from nst.export.onnx_export import onnx_from_module

    model = _model("styleswap")
    spec = model.export_spec()
    assert [t.name for t in spec.inputs] == ["image", "style", "strength"]
    assert spec.inputs[2].shape == (1,)
    path = tmp_path / "styleswap.onnx"
    onnx.save(onnx_from_module(model, spec), str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image", "style", "strength"]
    g = torch.Generator().manual_seed(2)
    for n, h, w in ((1, 97, 131), (2, 61, 45)):
        image, style = torch.rand(n, 3, h, w, generator=g), torch.rand(1, 3, 19, 27, generator=g)
        for s in (0.0, 0.35, 1.0):
            strength = torch.full((1,), s)
            feed = {"image": image.numpy(), "style": style.numpy(), "strength": strength.numpy()}
            (got,) = session.run(None, feed)
            with torch.no_grad():
                expected = model(image, style, strength).numpy()
            assert got.shape == (n, 3, h, w)
            np.testing.assert_allclose(got, expected, atol=1e-4)
