"""PSNR and SSIM against known values and against scikit-image's reference implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nst.calibration.metrics import gaussian_window, psnr, ssim
from nst.errors import InputError


def _image(seed: int = 0, shape: tuple[int, ...] = (48, 40, 3)) -> np.ndarray:
    return np.random.default_rng(seed).random(shape)


def test_identical_images_give_inf_psnr_and_ssim_one() -> None:
    image = _image()
    assert psnr(image, image) == math.inf
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-12)


def test_constant_offset_gives_exact_psnr() -> None:
    image = _image() * 0.9
    # MSE = 0.01^2 -> PSNR = 10 log10(1 / 1e-4) = 40 dB.
    assert psnr(image, image + 0.01) == pytest.approx(40.0, abs=1e-9)


def test_gaussian_noise_gives_expected_psnr() -> None:
    image = np.full((256, 256, 3), 0.5)
    noise = np.random.default_rng(1).normal(0.0, 0.05, image.shape)
    # sigma 0.05 -> MSE ~ 0.0025 -> 26.02 dB.
    assert psnr(image, image + noise) == pytest.approx(20 * math.log10(1 / 0.05), abs=0.05)


def test_ssim_drops_with_noise_and_is_symmetric() -> None:
    image = _image()
    noisy = np.clip(image + np.random.default_rng(2).normal(0, 0.1, image.shape), 0, 1)
    value = ssim(image, noisy)
    assert 0.0 < value < 0.99
    assert ssim(noisy, image) == pytest.approx(value)


def test_ssim_matches_scikit_image() -> None:
    metrics = pytest.importorskip("skimage.metrics")
    a = _image(3, (64, 72, 3))
    b = np.clip(a + np.random.default_rng(4).normal(0, 0.05, a.shape), 0, 1)
    expected = metrics.structural_similarity(
        a, b, channel_axis=2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
    )
    assert ssim(a, b) == pytest.approx(expected, abs=1e-6)


def test_ssim_accepts_nchw_batches() -> None:
    a = _image(5, (2, 3, 32, 32))
    per_image = [ssim(a[i].transpose(1, 2, 0), a[i].transpose(1, 2, 0) * 0.98) for i in range(2)]
    assert ssim(a, a * 0.98) == pytest.approx(np.mean(per_image))


def test_gaussian_window_is_normalised() -> None:
    g = gaussian_window()
    assert g.shape == (11,) and g.sum() == pytest.approx(1.0) and g.argmax() == 5


def test_mismatched_shapes_raise() -> None:
    with pytest.raises(InputError, match="cannot compare images of shapes"):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)))


def test_non_finite_values_raise() -> None:
    with pytest.raises(InputError, match="NaN or infinite"):
        ssim(np.zeros((16, 16)), np.full((16, 16), np.nan))


def test_ssim_needs_the_window_size() -> None:
    with pytest.raises(InputError, match="at least 11x11"):
        ssim(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))
