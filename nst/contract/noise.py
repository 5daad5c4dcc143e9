"""Noise inputs of texture nets (Ulyanov et al. 2016): shapes and seeded values.

The noise is made on the host from a seed with NumPy's PCG64 generator, so the same model,
seed and size give the same output with every backend and on every machine; training uses
the same shapes.
"""

from __future__ import annotations

import numpy as np

NOISE_CHANNELS = 3
MIN_NOISE = 2  # coarsest noise side; the net's 3x3 reflection padding needs >= 2
NOISE_PREFIX = "noise_"


def noise_shapes(scales: int, batch: int, height: int, width: int) -> list[tuple[int, int, int, int]]:
    """Shapes of ``noise_0`` (finest, H x W) .. ``noise_{K-1}`` (ceil(H / 2^(K-1)) x ...)."""
    return [(batch, NOISE_CHANNELS, -(-height // 2**k), -(-width // 2**k)) for k in range(scales)]


def seeded_noise(scales: int, batch: int, height: int, width: int, seed: int) -> dict[str, np.ndarray]:
    """Uniform [0, 1) float32 noise from ``numpy.random.default_rng(seed)``, finest scale first."""
    rng = np.random.default_rng(seed)
    shapes = noise_shapes(scales, batch, height, width)
    return {f"{NOISE_PREFIX}{k}": rng.random(shape, dtype=np.float32) for k, shape in enumerate(shapes)}
