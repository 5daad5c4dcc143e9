"""Texture-network stylization (Ulyanov et al. 2016, Sec. 3): content at every scale + noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from nst.errors import InputError
from nst.runtime.style_inputs import noise_feeds
from nst.runtime.stylizer import Stylizer
from nst.train.models.texture import TextureConfig, TextureStylizationNet
from tests.conftest import tiny_train_config, train_and_export


def test_every_scale_sees_the_content() -> None:
    torch.manual_seed(0)
    net = TextureStylizationNet(TextureConfig(scales=3, block_channels=4)).eval()
    feeds = net.example_inputs(1, 37, 45, torch.Generator().manual_seed(0))
    assert [tuple(v.shape) for v in feeds.values()] == [
        (1, 3, 37, 45),
        (1, 3, 37, 45),
        (1, 3, 19, 23),
        (1, 3, 10, 12),
    ]
    with torch.no_grad():
        out = net(**feeds)
        other = net(**{**feeds, "image": torch.rand(1, 3, 37, 45)})
    assert out.shape == (1, 3, 37, 45)
    assert not torch.allclose(out, other)  # the content reaches the output
    assert net.noise_blocks[0][1].in_channels == 6  # noise (3) + content (3) at every scale
    with pytest.raises(InputError, match=r"needs noise_0 \.\. noise_2"):
        net(feeds["image"], feeds["noise_0"])


def test_content_pyramid_matches_the_noise_sizes() -> None:
    net = TextureStylizationNet(TextureConfig(scales=4, block_channels=2))
    for h, w in ((64, 64), (65, 97), (71, 33)):
        feeds = net.example_inputs(1, h, w, torch.Generator().manual_seed(0))
        level = feeds["image"]
        for k in range(1, 4):
            level = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(level, (0, level.shape[3] % 2, 0,
                                                   level.shape[2] % 2), mode="reflect"), 2)  # fmt: skip
            assert level.shape[-2:] == feeds[f"noise_{k}"].shape[-2:]


def test_noise_feeds() -> None:
    net = TextureStylizationNet(TextureConfig(scales=2, block_channels=2))
    feeds = noise_feeds(net.export_spec().inputs[1:], 3)
    a, b = feeds["noise_0"](2, 33, 40), feeds["noise_1"](2, 33, 40)
    assert a.shape == (2, 3, 33, 40) and b.shape == (2, 3, 17, 20)
    assert np.array_equal(a, noise_feeds(net.export_spec().inputs[1:], 3)["noise_0"](2, 33, 40))
    assert np.array_equal(a[0], noise_feeds(net.export_spec().inputs[1:], 3)["noise_0"](1, 33, 40)[0])
    assert not np.array_equal(a, noise_feeds(net.export_spec().inputs[1:], 4)["noise_0"](2, 33, 40))
    assert noise_feeds(net.export_spec().inputs[:1], None) == {}
    with pytest.raises(InputError, match="this model takes no noise"):
        noise_feeds(net.export_spec().inputs[:1], 1)
    with pytest.raises(InputError, match="seed must be >= 0, got -1"):
        noise_feeds(net.export_spec().inputs[1:], -1)
    single = feeds["noise_1"](1, 33, 40)
    np.testing.assert_array_equal(b[0], single[0])  # an image's noise does not depend on its batch
    np.testing.assert_array_equal(b[1], single[0])


def test_training_refuses_crops_below_the_nets_minimum(content_dir: Path, style_image: Path,
                                                       vgg_weights: Path) -> None:  # fmt: skip
    import torch

    from nst.train.tasks import make_task

    config = tiny_train_config(content_dir, style_image, vgg_weights, family="texture_style",
                               model={"scales": 6, "block_channels": 2}, image_size=48)  # fmt: skip
    with pytest.raises(InputError, match="image_size 48 is below this net's minimum 64"):
        make_task(config, torch.device("cpu"))


@pytest.fixture(scope="module")
def texture_style_onnx(tmp_path_factory: pytest.TempPathFactory, content_dir: Path, style_image: Path,
                       vgg_weights: Path) -> Path:  # fmt: skip
    config = tiny_train_config(
        content_dir, style_image, vgg_weights, family="texture_style",
        model={"scales": 3, "block_channels": 4}, steps=2,
    )  # fmt: skip
    result, exported = train_and_export(tmp_path_factory, "texture_style", config)  # validated, batch 2
    assert set(result.final_losses) == {"content", "style", "tv", "total"}
    assert [c.shape for c in exported.checks] == [(1, 97, 131), (2, 64, 80), (1, 257, 255)]
    assert max(c.max_abs_diff for c in exported.checks) < 1e-4
    return exported.path


@pytest.mark.slow
def test_stylize_texture_style_model_by_seed(texture_style_onnx: Path, tmp_path: Path) -> None:
    from nst.cli.main import app

    cli = CliRunner()
    src = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (29, 43, 3), np.uint8)).save(src)
    outs = [tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"]
    for out, seed in zip(outs, (["--seed", "7"], ["--seed", "7"], []), strict=True):
        result = cli.invoke(app, ["stylize", str(texture_style_onnx), str(src), "-o", str(out), *seed])
        assert result.exit_code == 0, result.output
    a, b, c = (np.asarray(Image.open(p)) for p in outs)
    assert a.shape == (29, 43, 3) and np.array_equal(a, b) and not np.array_equal(a, c)
    with Stylizer(texture_style_onnx, seed=0) as stylizer:
        rgb = stylizer.stylize_array(np.asarray(Image.open(src)))
    assert np.abs(rgb * 255 - c.astype(np.float32)).max() <= 1.0  # default seed is 0
    small = Image.fromarray(np.zeros((7, 40, 3), np.uint8))
    small.save(tmp_path / "small.png")
    result = cli.invoke(app, ["stylize", str(texture_style_onnx), str(tmp_path / "small.png"), "-o",
                              str(tmp_path / "s.png")])  # fmt: skip
    assert result.exit_code == 1 and "must be >= 8" in result.output


def test_seed_is_refused_for_models_without_noise(tiny_onnx: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="this model takes no noise"):
        Stylizer(tiny_onnx, seed=3)
