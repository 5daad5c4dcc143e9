import pytest
import torch

from nst.train.losses import content_loss, gram_matrix, relative_mse, style_loss, tv_loss


def test_gram_matrix_matches_definition() -> None:
    feats = torch.arange(12, dtype=torch.float32).reshape(1, 2, 2, 3)
    flat = feats.reshape(2, 6)
    expected = flat @ flat.T / 12
    assert torch.allclose(gram_matrix(feats)[0], expected)
    assert gram_matrix(torch.rand(3, 5, 4, 4)).shape == (3, 5, 5)


def test_perfect_reconstruction_has_zero_content_loss() -> None:
    x = torch.rand(2, 8, 5, 5)
    assert content_loss(x, x).item() == 0.0
    assert content_loss(torch.zeros_like(x), x).item() == pytest.approx(1.0, rel=1e-5)


def test_style_image_itself_has_zero_style_loss() -> None:
    feats = {"a": torch.rand(1, 4, 6, 6), "b": torch.rand(1, 8, 3, 3)}
    grams = {k: gram_matrix(v) for k, v in feats.items()}
    assert style_loss(feats, grams).item() == pytest.approx(0.0, abs=1e-7)
    other = {k: torch.rand_like(v) for k, v in feats.items()}
    assert style_loss(other, grams).item() > 0.01


def test_relative_mse_is_scale_invariant() -> None:
    a, b = torch.rand(10), torch.rand(10)
    assert relative_mse(255 * a, 255 * b).item() == pytest.approx(relative_mse(a, b).item(), rel=1e-5)


def test_tv_loss_zero_on_constant_positive_on_noise() -> None:
    assert tv_loss(torch.full((1, 3, 8, 8), 0.3)).item() == 0.0
    assert tv_loss(torch.rand(1, 3, 8, 8)).item() > 0.05
