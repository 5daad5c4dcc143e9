"""``--strength`` and ``--preserve-color``: blend with the photo, keep its colours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from nst.cli.main import app
from nst.errors import InputError
from nst.runtime.controls import Controls, keep_colors
from nst.runtime.stylizer import Stylizer

RNG = np.random.default_rng(0)


def test_strength_blends_linearly_and_is_checked() -> None:
    photo, styl = RNG.random((5, 7, 3), dtype=np.float32), RNG.random((5, 7, 3), dtype=np.float32)
    np.testing.assert_allclose(Controls(0.25).apply(photo, styl), 0.25 * styl + 0.75 * photo, atol=1e-6)
    np.testing.assert_allclose(Controls(0.0).apply(photo, styl), photo, atol=1e-6)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(InputError, match=r"strength must be in \[0, 1\]"):
            Controls(bad)
    with pytest.raises(InputError, match="need an output the size of the input"):
        Controls(0.5).apply(photo, np.zeros((10, 14, 3), np.float32))  # super-resolution


def test_preserve_color_keeps_chroma_and_takes_luma() -> None:
    photo = np.full((4, 4, 3), (0.8, 0.2, 0.1), np.float32)  # a saturated red-orange
    gray = np.full((4, 4, 3), 0.5, np.float32)  # a colourless stylized image
    out = keep_colors(photo, gray)
    y = out @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(y, 0.5, atol=2e-3)  # the stylized luma
    assert out[0, 0, 0] > out[0, 0, 1] > out[0, 0, 2]  # the photo's hue order
    np.testing.assert_allclose(keep_colors(photo, photo), photo, atol=1e-5)


def test_stylizer_and_cli_apply_the_controls(tmp_path: Path) -> None:
    photo = RNG.random((33, 29, 3), dtype=np.float32)
    with Stylizer() as plain, Stylizer(strength=0.0) as none, Stylizer(preserve_color=True) as kept:
        full = plain.stylize_array(photo)
        np.testing.assert_allclose(none.stylize_array(photo), photo, atol=1e-6)
        np.testing.assert_allclose(kept.stylize_array(photo), keep_colors(photo, full), atol=1e-5)
    src = tmp_path / "p.png"
    Image.fromarray((photo * 255).astype(np.uint8)).save(src)
    cli = CliRunner()
    result = cli.invoke(app, ["stylize", str(src), "-o", str(tmp_path / "o.png"), "--strength", "0"])
    assert result.exit_code == 0, result.output
    out = np.asarray(Image.open(tmp_path / "o.png"), np.int16)
    assert np.abs(out - np.asarray(Image.open(src), np.int16)).max() <= 1
    bad = cli.invoke(app, ["stylize", str(src), "-o", str(tmp_path / "x.png"), "--strength", "2"])
    assert bad.exit_code == 1 and "strength must be in [0, 1], got 2.0" in bad.output


def test_strength_goes_into_the_graph_of_models_that_take_it() -> None:
    from nst.contract.spec import TensorSpec, image_tensor
    from nst.runtime.controls import in_graph
    from nst.runtime.style_inputs import check_style_values, materialise

    image = image_tensor("image", "content")
    swap = (image, TensorSpec("style", (1, 3, "style_height", "style_width")), TensorSpec("strength", (1,)))
    controls, feed = in_graph(Controls(0.3, preserve_color=True), swap[1:])
    assert controls == Controls(1.0, preserve_color=True)  # no pixel blend, colours still kept
    np.testing.assert_array_equal(feed["strength"], np.array([0.3], np.float32))
    assert in_graph(Controls(0.3), (image,)) == (Controls(0.3), {})  # other families: pixel blend
    style = np.zeros((1, 3, 16, 16), np.float32)
    defaulted = materialise(swap[1:], {"style": style}, 2, 20, 24)
    np.testing.assert_array_equal(defaulted["strength"], np.ones(1, np.float32))  # the full swap
    for bad in (np.array([1.5], np.float32), np.array([np.nan], np.float32)):
        with pytest.raises(InputError, match=r"strength must be in \[0, 1\]"):
            check_style_values({"strength": bad})


def test_stylizer_feeds_strength_to_style_swap_models(tmp_path: Path) -> None:
    import onnx
    import torch

    from nst.contract.metadata import ModelMetadata
    from nst.export.onnx_export import onnx_from_module
    from nst.train.models import build_model

    torch.manual_seed(0)
    net = build_model("styleswap", {"base_channels": 4}).eval()
    proto = onnx_from_module(net, net.export_spec())
    onnx.helper.set_model_props(
        proto, ModelMetadata("styleswap", (), net.export_spec(), "0.1.0", {}).to_props()
    )
    onnx.save(proto, str(tmp_path / "swap.onnx"))
    photo, style = RNG.random((29, 35, 3), dtype=np.float32), RNG.random((1, 3, 24, 20), dtype=np.float32)
    runs = {}
    for s in (0.0, 0.5, 1.0):
        with Stylizer(tmp_path / "swap.onnx", inputs={"style": style}, strength=s) as stylizer:
            assert stylizer.controls.strength == 1.0  # no pixel blend on top
            runs[s] = stylizer.stylize_array(photo)
    with torch.no_grad():
        image = torch.from_numpy(photo.transpose(2, 0, 1)[None].copy())
        for s, got in runs.items():
            expected = net(image, torch.from_numpy(style), torch.full((1,), s))[0].numpy().transpose(1, 2, 0)
            np.testing.assert_allclose(got, expected, atol=1e-4)
    assert (
        np.abs(runs[0.0] - runs[1.0]).mean() > 1e-3 and np.abs(runs[0.0] - photo).mean() > 1e-3
    )  # not a blend
