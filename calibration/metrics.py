"""Image-quality metrics between a reference (FP32) output and a reduced-precision one.

numpy only. Images are float (H, W, 3) or (N, 3, H, W) arrays in [0, 1].
"""

from __future__ import annotations

import math

import numpy as np

from nst.errors import InputError

# Wang, Bovik, Sheikh & Simoncelli 2004, "Image Quality Assessment: From Error Visibility to
# Structural Similarity", Sec. III-B: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03.
SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03


def _check_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a64.shape != b64.shape or a64.size == 0:
        raise InputError(f"cannot compare images of shapes {a64.shape} and {b64.shape}")
    if not (np.isfinite(a64).all() and np.isfinite(b64).all()):
        raise InputError("cannot compare images with NaN or infinite values")
    return a64, b64


def psnr(reference: np.ndarray, test: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB: 10 log10(range^2 / MSE); ``inf`` for identical images.

    Raises:
        InputError: Shapes differ, are empty, or values are not finite.
    """
    a, b = _check_pair(reference, test)
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(data_range**2 / mse)


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian of odd length ``size`` (the 2-D window is its outer product)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _filter(image: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' Gaussian filtering of (H, W) -> (H-k+1, W-k+1)."""
    k = g.size
    rows = sum(g[i] * image[i : image.shape[0] - k + 1 + i, :] for i in range(k))  # (H-k+1, W)
    return sum(g[j] * rows[:, j : rows.shape[1] - k + 1 + j] for j in range(k))


def _ssim_channel(x: np.ndarray, y: np.ndarray, g: np.ndarray, data_range: float) -> float:
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    mu_x, mu_y = _filter(x, g), _filter(y, g)
    # Local (co)variances: E[xy] - E[x]E[y] under the Gaussian window (Wang et al. eq. 14-15).
    var_x = _filter(x * x, g) - mu_x**2
    var_y = _filter(y * y, g) - mu_y**2
    cov = _filter(x * y, g) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return float(np.mean(num / den))


def ssim(reference: np.ndarray, test: np.ndarray, data_range: float = 1.0) -> float:
    """Mean structural similarity (Wang et al. 2004), averaged over channels (and batch).

    Args:
        reference: (H, W), (H, W, C) or (N, C, H, W) array.
        test: Same shape.
        data_range: Value range of the images (1.0 for [0, 1]).

    Returns:
        SSIM in [-1, 1]; exactly 1.0 for identical images.

    Raises:
        InputError: Shapes differ or are smaller than the 11x11 window, or values not finite.
    """
    a, b = _check_pair(reference, test)
    if a.ndim == 2:
        planes = [(a, b)]
    elif a.ndim == 3:  # (H, W, C)
        planes = [(a[:, :, c], b[:, :, c]) for c in range(a.shape[2])]
    elif a.ndim == 4:  # (N, C, H, W)
        planes = [(a[n, c], b[n, c]) for n in range(a.shape[0]) for c in range(a.shape[1])]
    else:
        raise InputError(f"ssim expects 2-D, HWC or NCHW images, got shape {a.shape}")
    if min(planes[0][0].shape) < SSIM_WINDOW:
        raise InputError(f"ssim needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW}, got {a.shape}")
    g = gaussian_window()
    return float(np.mean([_ssim_channel(x, y, g, data_range) for x, y in planes]))
