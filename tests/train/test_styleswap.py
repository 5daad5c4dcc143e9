"""Style-swap (Chen & Schmidt 2016): swap layer vs a patch-loop reference, training, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nst.errors import InputError
from nst.train.losses import relative_mse
from nst.train.models.styleswap import StyleSwapConfig, StyleSwapNet, styleswap_optimize
from nst.train.models.swap import fold_windows, match_patches, style_patches, style_swap, window_stack
from tests.conftest import tiny_train_config, train_and_export
from tests.train.styleswap_reference import style_swap_reference, top2_margin


def test_style_patches_are_row_major_windows() -> None:
    feats = torch.arange(2 * 4 * 5, dtype=torch.float32).reshape(1, 2, 4, 5)
    patches = style_patches(feats, 3)  # (P, 9, C), P = 2 * 3
    assert patches.shape == (6, 9, 2)
    window = patches[4].reshape(3, 3, 2).permute(2, 0, 1)  # (dy, dx, c) -> (c, dy, dx)
    assert torch.equal(window, feats[0, :, 1:4, 1:4])  # second row, second column
    last = feats.permute(0, 2, 3, 1)  # channels last
    assert torch.equal(window_stack(last, 3)[0, :, :, 3 * 1 + 2], last[0, 1:3, 2:5])  # dy=1, dx=2


@pytest.mark.parametrize("patch", [1, 3, 5])
def test_fold_of_windows_over_overlap_count_is_identity(patch: int) -> None:
    feats = torch.rand(2, 11, 12, 3, generator=torch.Generator().manual_seed(4))  # channels last
    windows = window_stack(feats, patch)  # (2, 11-k+1, 12-k+1, k*k, 3)
    ones = torch.ones_like(windows[:1, :, :, 0, :1])  # (1, H', W', 1)
    count = fold_windows(lambda _: ones, patch)
    assert int(count.max()) == patch * patch and int(count.min()) == 1  # centre vs corner pixels

    def window(i: int) -> torch.Tensor:
        return windows[:, :, :, i]

    assert torch.allclose(fold_windows(window, patch) / count, feats, atol=1e-6)
    assert torch.allclose(fold_windows(window, patch, 1.0 / count), feats, atol=1e-6)


# (N, C, H, W) content features, (Hs, Ws) style features, patch: odd sizes, batches, a single
# style patch, a single content window, and patch sizes 1 and 5 (few channels with patch 1 make
# exact-arithmetic ties of ReLU maps, which float32 rounding then breaks either way: 16 channels)
PARITY_CASES = [
    ((2, 8, 13, 17), (9, 11), 3),
    ((1, 6, 7, 9), (6, 8), 3),
    ((3, 4, 5, 6), (3, 3), 3),  # a single style patch
    ((1, 5, 3, 3), (10, 7), 3),  # a single content window
    ((2, 16, 8, 11), (7, 9), 1),
    ((1, 3, 9, 10), (8, 9), 5),
]


@pytest.mark.parametrize(("content_shape", "style_hw", "patch"), PARITY_CASES)
def test_style_swap_matches_patch_loop_reference(
    content_shape: tuple[int, int, int, int], style_hw: tuple[int, int], patch: int
) -> None:
    g = torch.Generator().manual_seed(sum(content_shape) + patch)
    content = torch.relu(torch.randn(*content_shape, generator=g))  # ReLU maps, like relu3_1
    style = torch.relu(torch.randn(1, content_shape[1], *style_hw, generator=g))
    expected, choice = style_swap_reference(content, style, patch)
    patches = style_patches(style, patch)
    if patches.shape[0] > 1:
        assert top2_margin(content, style, patch) > 1e-4  # exact argmax agreement is meaningful
    assert torch.equal(match_patches(content, patches, patch), choice)
    fast = style_swap(content, style, patch)
    assert fast.shape == content.shape
    assert torch.allclose(fast, expected, atol=1e-6)


def test_batch_images_are_swapped_independently() -> None:
    g = torch.Generator().manual_seed(5)
    content, style = torch.rand(3, 4, 9, 10, generator=g), torch.rand(1, 4, 8, 7, generator=g)
    singles = torch.cat([style_swap(content[i : i + 1], style) for i in range(3)])
    assert torch.allclose(style_swap(content, style), singles, atol=1e-6)


def test_style_swap_ties_pick_one_patch() -> None:
    """Identical style patches (flat regions: common in ReLU maps) must not be summed."""
    content = torch.rand(1, 3, 5, 5, generator=torch.Generator().manual_seed(1))
    style = torch.ones(1, 3, 5, 5)
    swapped = style_swap(content, style)
    assert torch.allclose(swapped, torch.ones_like(swapped))
    assert torch.allclose(swapped, style_swap_reference(content, style)[0])


def test_all_zero_content_windows_pick_the_first_patch() -> None:
    """A dead (all-zero) relu3_1 window scores 0 against every style patch: ArgMax keeps the first."""
    g = torch.Generator().manual_seed(6)
    content, style = torch.rand(1, 4, 8, 8, generator=g), torch.rand(1, 4, 6, 7, generator=g)
    content[:, :, :4, :4] = 0.0  # the windows at rows 0-1, columns 0-1 see only zeros
    best = match_patches(content, style_patches(style, 3), 3)
    assert best[0, :2, :2].eq(0).all()
    assert torch.equal(best, style_swap_reference(content, style)[1])


def test_swapping_style_with_itself_is_identity() -> None:
    feats = torch.rand(1, 4, 6, 7, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(style_swap(feats, feats), feats, atol=1e-6)


def test_swap_layer_adds_no_weights() -> None:
    """Checkpoints hold only the encoder and the inverse net, so ones trained before still load."""
    net = StyleSwapNet(StyleSwapConfig(base_channels=4))
    assert {k.split(".")[0] for k in net.state_dict()} == {"encoder", "decoder"}
    assert len(net.state_dict()) == 28  # (5 VGG convs + 5 decoder convs + 4 instance norms) x 2
    StyleSwapNet(StyleSwapConfig(base_channels=4)).load_state_dict(net.state_dict())  # strict


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
        feats, _ = style_swap_reference(model.encode(pad_to_multiple(image, 4)), model.encode(style))
        expected = model.decoder(feats)[:, :, :21, :19].numpy()
    with OrtRunner(onnx_path, providers="cpu") as runner:
        assert [t.name for t in runner.spec.inputs] == ["image", "style", "strength"]
        full = np.ones(1, np.float32)
        got = runner.infer({"image": image.numpy(), "style": style.numpy(), "strength": full})["stylized"]
        with pytest.raises(InputError, match=r"missing model input\(s\) \['style'\]"):
            runner.infer({"image": image.numpy(), "strength": full})
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


@pytest.fixture(scope="module")
def untrained_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The style-swap graph with random weights: the same ops as a trained one, no VGG needed.

    conv3_1 is scaled so relu3_1 reaches ~1e4, the Caffe-converted VGG's range (the real
    weights' patch norms overflow float16; random ones stay below 1).
    """
    import onnx

    from nst.export.onnx_export import onnx_from_module

    torch.manual_seed(0)
    net = StyleSwapNet(StyleSwapConfig(base_channels=4)).eval()
    conv3_1 = net.encoder[-2]
    assert isinstance(conv3_1, torch.nn.Conv2d) and conv3_1.bias is not None
    with torch.no_grad():
        conv3_1.weight.mul_(5e4)
        conv3_1.bias.mul_(5e4)
    path = tmp_path_factory.mktemp("styleswap_trt") / "styleswap.onnx"
    onnx.save_model(onnx_from_module(net, net.export_spec()), str(path))
    return path


def _trt_parse_and_build(path: Path) -> None:
    """Parse ``path`` with TensorRT-RTX's ONNX parser and build it (no GPU needed) over the
    spec's profile: image min/opt/max and the style axes' ``axis_profiles``."""
    trt = pytest.importorskip("tensorrt_rtx")
    from nst.contract.profiles import input_shapes, profiles_from_spec

    spec = StyleSwapNet(StyleSwapConfig(base_channels=4)).export_spec()
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    ok = parser.parse_from_file(str(path))
    assert ok, [str(parser.get_error(i)) for i in range(parser.num_errors)]
    config = builder.create_builder_config()
    config.num_compute_capabilities = 1
    config.set_compute_capability(trt.ComputeCapability.SM86, 0)
    profile = builder.create_optimization_profile()
    shapes = input_shapes(spec, profiles_from_spec(spec)[0])
    assert shapes["style"][2] == (1, 3, 512, 512)
    for name, (low, opt, high) in shapes.items():
        profile.set_shape(name, low, opt, high)
    config.add_optimization_profile(profile)
    assert builder.build_serialized_network(network, config) is not None


@pytest.mark.slow
def test_tensorrt_parses_and_builds_the_fp32_graph(untrained_onnx: Path) -> None:
    _trt_parse_and_build(untrained_onnx)


@pytest.mark.slow
def test_tensorrt_parses_and_builds_the_fp16_graph(untrained_onnx: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorrt_rtx")
    from nst.calibration.fp16 import convert_fp16

    rng = np.random.default_rng(0)
    feed = {
        "image": rng.random((1, 3, 64, 72), dtype=np.float32),
        "style": rng.random((1, 3, 48, 40), dtype=np.float32),
        "strength": np.ones(1, np.float32),
    }
    result = convert_fp16(untrained_onnx, tmp_path / "styleswap_fp16.onnx", validation_feeds=[feed])
    assert result.psnr_db is not None and result.psnr_db >= 30  # ORT, FP16 vs FP32 (checked inside too)
    _trt_parse_and_build(result.path)


def test_caffe_scale_features_swap_in_float16() -> None:
    """relu3_1 of the Caffe VGG reaches ~1e4: a 3x3x256 patch's squared norm overflows float16,
    so the layer scales before it squares (an FP16 copy of the graph runs these ops in half)."""
    g = torch.Generator().manual_seed(7)
    content = torch.relu(torch.randn(1, 256, 12, 13, generator=g)) * 3000
    style = torch.relu(torch.randn(1, 256, 10, 9, generator=g)) * 3000
    patches = style_patches(style, 3)
    assert torch.isinf(patches.half().pow(2).sum(dim=(1, 2))).all()  # the naive norm would be inf
    swapped = style_swap(content.half(), style.half())
    assert torch.isfinite(swapped).all()
    best32 = match_patches(content, patches, 3)
    best16 = match_patches(content.half(), patches.half(), 3)
    assert float((best16 == best32).float().mean()) >= 0.95  # float16 rounding flips near-ties only
