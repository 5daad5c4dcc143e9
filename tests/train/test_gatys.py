import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from nst.errors import InputError
from nst.train.config import TrainConfig
from nst.train.gatys import GatysConfig, PerceptualLoss, check_rgb, gatys_stylize
from nst.train.vgg import VGG16Features, load_vgg16


def photo(seed: int, h: int = 32, w: int = 40) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    rng = np.random.default_rng(seed)
    base = np.stack([np.sin(5 * xx * rng.uniform(0.5, 2) + rng.uniform(0, 6)) for _ in range(3)], axis=2)
    return np.clip(0.5 + 0.3 * base + 0.2 * yy[..., None], 0, 1).astype(np.float32)


def stripes(size: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    s = ((xx + yy) // 4) % 2
    return np.stack([s * 0.9, 0.2 + s * 0.2, 0.8 - s * 0.6], axis=2).astype(np.float32)


@pytest.fixture(scope="module")
def vgg(vgg_weights: Path) -> VGG16Features:
    config = GatysConfig()
    return load_vgg16(tuple(dict.fromkeys((config.content_layer, *config.style_layers))), vgg_weights)


def as_batch(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None]  # (1, 3, H, W)


def test_perfect_reconstruction_has_zero_content_loss(vgg: VGG16Features) -> None:
    loss = PerceptualLoss(GatysConfig(style_size=None), stripes(), vgg)
    content = as_batch(photo(0))
    with torch.no_grad():
        terms = loss(content, loss.content_target(content))
        other = loss(as_batch(photo(1)), loss.content_target(content))
    assert terms["content"].item() == 0.0
    assert other["content"].item() > 0.01


def test_style_image_itself_has_zero_style_loss(vgg: VGG16Features) -> None:
    style = stripes()
    loss = PerceptualLoss(GatysConfig(style_size=None), style, vgg)
    with torch.no_grad():
        target = loss.content_target(as_batch(photo(0, 32, 32)))
        own, other = loss(as_batch(style), target), loss(as_batch(photo(0, 32, 32)), target)
    assert own["style"].item() == pytest.approx(0.0, abs=1e-6)
    assert other["style"].item() > 1.0
    assert own["total"].item() == pytest.approx(sum(own[k].item() for k in ("content", "style", "tv")))


def test_gatys_lowers_the_loss_monotonically(vgg: VGG16Features) -> None:
    config = GatysConfig(iterations=5, style_weight=10.0, style_size=32)
    content = photo(0)
    result = gatys_stylize(content, stripes(), config, snapshots=(2, 5), vgg=vgg)
    totals = [h["total"] for h in result.history]
    assert result.iterations == 5 and len(totals) == 6
    assert all(b <= a for a, b in itertools.pairwise(totals)), totals
    assert totals[-1] < 0.9 * totals[0]
    assert result.image.shape == content.shape and result.image.dtype == np.float32
    assert result.image.min() >= 0.0 and result.image.max() <= 1.0
    assert result.snapshots[5].losses == result.history[5]
    assert result.snapshots[2].losses == result.history[2] and result.snapshots[2].seconds <= result.seconds
    assert np.array_equal(result.snapshots[5].image, result.image)
    # one closure evaluation per accepted point is re-used, not recomputed
    assert result.evaluations < 3 * result.iterations


def test_noise_init_is_seeded(vgg: VGG16Features) -> None:
    def run(seed: int) -> np.ndarray:
        config = GatysConfig(iterations=1, init="noise", seed=seed, style_size=32)
        return gatys_stylize(photo(0), stripes(), config, vgg=vgg).image

    first = run(0)
    assert np.array_equal(first, run(0))
    assert not np.array_equal(first, run(1))


def test_config_copies_the_training_objective() -> None:
    train = TrainConfig(style_weight=2.0, tv_weight=10.0, style_size=256, content_layer="relu3_3", seed=7)
    config = GatysConfig.from_train_config(train, iterations=50)
    assert (config.style_weight, config.tv_weight, config.style_size) == (2.0, 10.0, 256)
    assert config.content_layer == "relu3_3" and config.iterations == 50 and config.seed == 0
    defaults = GatysConfig()
    train_defaults = TrainConfig()
    assert defaults.style_weight == train_defaults.style_weight
    assert defaults.style_layers == train_defaults.style_layers


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"iterations": 0}, "iterations must be >= 1"),
        ({"init": "zeros"}, "init must be one of content, noise"),
        ({"style_weight": -1.0}, "style_weight must be >= 0"),
        ({"style_size": 8}, "style_size must be >= 16"),
        ({"style_layers": ("relu9_9",)}, r"unknown VGG layer\(s\) \['relu9_9'\]"),
    ],
)
def test_bad_config_is_an_input_error(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        GatysConfig(**kwargs)


def test_bad_images_and_snapshots_are_input_errors(vgg: VGG16Features) -> None:
    with pytest.raises(InputError, match=r"content is 8x8: too small, need >= 16 px"):
        check_rgb(np.zeros((8, 8, 3), np.float32), "content")
    with pytest.raises(InputError, match=r"must be an \(H, W, 3\) RGB array"):
        check_rgb(np.zeros((32, 32), np.float32), "content")
    with pytest.raises(InputError, match=r"within \[0, 1\]"):
        check_rgb(np.full((32, 32, 3), 2.0, np.float32), "style")
    with pytest.raises(InputError, match=r"snapshot iterations \[9\] must lie in 1..3"):
        gatys_stylize(photo(0), stripes(), GatysConfig(iterations=3), snapshots=(9,), vgg=vgg)
