"""Style-swap (Chen & Schmidt 2016): swap layer vs a patch-loop reference, training, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nst.errors import InputError
from nst.train.losses import relative_mse
from nst.train.models.styleswap import (
    StyleSwapConfig,
    StyleSwapNet,
    extract_patches,
    style_swap,
    style_swap_reference,
    styleswap_optimize,
)
from tests.conftest import tiny_train_config, train_and_export


def test_extract_patches_are_row_major_windows() -> None:
    feats = torch.arange(2 * 4 * 5, dtype=torch.float32).reshape(1, 2, 4, 5)
    patches = extract_patches(feats, 3)  # (P, C, 3, 3), P = 2 * 3
    assert patches.shape == (6, 2, 3, 3)
    assert torch.equal(patches[4], feats[0, :, 1:4, 1:4])  # second row, second column


def test_style_swap_matches_patch_loop_reference() -> None:
    g = torch.Generator().manual_seed(0)
    content = torch.rand(2, 6, 7, 9, generator=g)
    style = torch.rand(1, 6, 6, 8, generator=g)
    fast = style_swap(content, style)
    assert torch.allclose(fast, style_swap_reference(content, style), atol=1e-6)
    assert not torch.allclose(fast, content, atol=1e-2)  # it really swapped something


def test_style_swap_ties_pick_one_patch() -> None:
    """Identical style patches (flat regions: common in ReLU maps) must not be summed."""
    content = torch.rand(1, 3, 5, 5, generator=torch.Generator().manual_seed(1))
    style = torch.ones(1, 3, 5, 5)
    swapped = style_swap(content, style)
    assert torch.allclose(swapped, torch.ones_like(swapped))
    assert torch.allclose(swapped, style_swap_reference(content, style))


def test_swapping_style_with_itself_is_identity() -> None:
    feats = torch.rand(1, 4, 6, 7, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(style_swap(feats, feats), feats, atol=1e-6)


def test_config_rejects_even_patches() -> None:
    with pytest.raises(InputError, match="patch_size must be odd"):
        StyleSwapConfig(patch_size=2)


def test_optimize_moves_towards_swapped_target() -> None:
    torch.manual_seed(0)
    net = StyleSwapNet(StyleSwapConfig(base_channels=4)).eval()
    content = torch.rand(1, 3, 16, 20)
    style = torch.rand(1, 3, 20, 16)
    calls: list[int] = []
    out = styleswap_optimize(
        content, style, net, steps=3, tv_weight=0.0, on_iteration=lambda: calls.append(1)
    )
    assert out.shape == content.shape and len(calls) == 3
    assert not torch.allclose(out, content)
    with torch.no_grad():
        target = net.swap(net.encode(content), net.encode(style))
        before, after = (float(relative_mse(net.encode(x), target)) for x in (content, out))
    assert after < 0.9 * before
    with pytest.raises(InputError, match="both sides must be >= 16"):
        styleswap_optimize(content, style[:, :, :12], net)
    with pytest.raises(InputError, match="multiples of 4"):
        styleswap_optimize(content[:, :, :, :18], style, net)


@pytest.fixture(scope="module")
def styleswap_onnx(tmp_path_factory: pytest.TempPathFactory, content_dir: Path, style_image: Path,
                   vgg_weights: Path) -> tuple[Path, Path]:  # fmt: skip
    config = tiny_train_config(
        content_dir, style_image, vgg_weights, family="styleswap", model={"base_channels": 4},
        steps=2, tv_weight=0.1,
    )  # fmt: skip
    result, exported = train_and_export(tmp_path_factory, "styleswap", config)  # validated, batch 2 too
    assert [c.shape for c in exported.checks] == [(1, 97, 131), (2, 61, 45), (1, 64, 64)]
    assert max(c.max_abs_diff for c in exported.checks) <= 1e-4
    return result.checkpoint, exported.path


@pytest.mark.slow
def test_exported_graph_matches_patch_loop_reference(styleswap_onnx: tuple[Path, Path]) -> None:
    from nst.runtime.onnxrt.runner import OrtRunner
    from nst.train.checkpoint import load_checkpoint, model_from_checkpoint
    from nst.train.models.blocks import pad_to_multiple

    checkpoint, onnx_path = styleswap_onnx
    model = model_from_checkpoint(load_checkpoint(checkpoint))
    g = torch.Generator().manual_seed(3)
    image, style = torch.rand(1, 3, 21, 19, generator=g), torch.rand(1, 3, 17, 23, generator=g)
    with torch.no_grad():
        feats = style_swap_reference(model.encode(pad_to_multiple(image, 4)), model.encode(style))
        expected = model.decoder(feats)[:, :, :21, :19].numpy()
    with OrtRunner(onnx_path, providers="cpu") as runner:
        assert [t.name for t in runner.spec.inputs] == ["image", "style"]
        got = runner.infer({"image": image.numpy(), "style": style.numpy()})["stylized"]
        with pytest.raises(InputError, match=r"missing model input\(s\) \['style'\]"):
            runner.infer({"image": image.numpy()})
    assert got.shape == (1, 3, 21, 19)
    assert np.abs(got - expected).max() < 1e-4


def test_style_image_feed_needs_a_styleswap_model(style_image: Path) -> None:
    from nst.contract.spec import image_tensor
    from nst.runtime.style_image import style_image_feed

    johnson_inputs = (image_tensor("image", "content"),)
    with pytest.raises(InputError, match=r"needs a style-swap model .* not a johnson model"):
        style_image_feed(johnson_inputs, "johnson", style_image)
    spec = StyleSwapNet(StyleSwapConfig(base_channels=4)).export_spec()
    feed = style_image_feed(spec.inputs, "styleswap", style_image, short_side=32)["style"]
    assert feed.shape == (1, 3, 32, 32) and feed.dtype == np.float32


@pytest.mark.slow
def test_nst_stylize_with_style_image(
    styleswap_onnx: tuple[Path, Path], style_image: Path, tmp_path: Path
) -> None:
    from PIL import Image
    from typer.testing import CliRunner

    from nst.cli.main import app

    photo, out = tmp_path / "photo.png", tmp_path / "out.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (37, 45, 3), dtype=np.uint8)).save(photo)
    args = ["stylize", str(styleswap_onnx[1]), str(photo), "-o", str(out), "--providers", "cpu"]
    result = CliRunner().invoke(app, [*args, "--style-image", str(style_image), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (45, 37)
    missing = CliRunner().invoke(app, [*args, "--force"])
    assert missing.exit_code == 1
    assert "needs input 'style'" in missing.output
