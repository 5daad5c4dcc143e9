"""ImageFolderSource and the CalibrationMethod enum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nst.calibration.source import (
    CalibrationMethod,
    CalibrationSource,
    ImageFolderSource,
    cover_crop,
    take,
)
from nst.errors import InputError, InputImageError


def test_feeds_are_nchw_float_crops(calib_dir: Path) -> None:
    source = ImageFolderSource(calib_dir, size=32)
    feeds = list(source)
    assert isinstance(source, CalibrationSource) and len(source) == len(feeds) == 6
    for feed in feeds:
        image = feed["image"]
        assert image.shape == (1, 3, 32, 32) and image.dtype == np.float32
        assert image.min() >= 0.0 and image.max() <= 1.0


def test_iterating_twice_gives_the_same_feeds(calib_dir: Path) -> None:
    source = ImageFolderSource(calib_dir, size=24)
    first, second = take(source, 3), take(source, 3)
    assert len(first) == 3
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a["image"], b["image"])


def test_limit_takes_a_seeded_subset(calib_dir: Path) -> None:
    a = ImageFolderSource(calib_dir, size=16, limit=3, seed=7)
    b = ImageFolderSource(calib_dir, size=16, limit=3, seed=7)
    assert len(a) == 3 and a.files == b.files
    assert {p.name for p in a.files} <= {p.name for p in calib_dir.iterdir()}
    subsets = {tuple(ImageFolderSource(calib_dir, size=16, limit=3, seed=s).files) for s in range(6)}
    assert len(subsets) > 1  # the seed picks the subset


def test_cover_crop_keeps_the_centre() -> None:
    rgb = np.zeros((20, 40, 3), np.float32)
    rgb[:, 10:30] = 1.0  # a bright centre band, half the width
    crop = cover_crop(rgb, 10, 10)  # 20x40 -> 10x20 -> centre 10x10 is inside the band
    assert crop.shape == (10, 10, 3) and crop.min() > 0.9


def test_bad_size_and_limit_raise(calib_dir: Path) -> None:
    with pytest.raises(InputError, match="calibration size must be >= 1"):
        ImageFolderSource(calib_dir, size=0)
    with pytest.raises(InputError, match="calibration limit must be >= 1"):
        ImageFolderSource(calib_dir, limit=0)


def test_empty_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(InputImageError, match="has no images"):
        ImageFolderSource(tmp_path)


def test_method_parse() -> None:
    assert CalibrationMethod.parse("Entropy") is CalibrationMethod.ENTROPY
    assert [m.value for m in CalibrationMethod] == ["minmax", "entropy", "percentile"]
    with pytest.raises(InputError, match="unknown calibration method 'kl'"):
        CalibrationMethod.parse("kl")
