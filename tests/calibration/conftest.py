"""Fixtures for the calibration tests: two disjoint folders of synthetic photos (calibration
and held-out). The model is the suite's ``tiny_onnx`` (tests/conftest.py): a 4-channel,
one-residual-block Johnson net, trained for 4 steps and exported by the real exporter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import synthetic_photo


def _photos(folder: Path, seed: int, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(synthetic_photo(rng, 40, 48)).save(folder / f"photo{i:02d}.png")
    return folder


@pytest.fixture(scope="session")
def calib_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 synthetic 40x48 calibration photos."""
    return _photos(tmp_path_factory.mktemp("calib"), seed=1, count=6)


@pytest.fixture(scope="session")
def heldout_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 synthetic photos that are not calibration photos."""
    return _photos(tmp_path_factory.mktemp("heldout"), seed=2, count=3)
