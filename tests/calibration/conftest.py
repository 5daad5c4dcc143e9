"""Fixtures for the calibration tests: two disjoint folders of synthetic photos (calibration
and held-out), and tiny untrained nets of every family (``family_onnx``). The main model is
the suite's ``tiny_onnx`` (tests/conftest.py): a 4-channel, one-residual-block Johnson net,
trained for 4 steps and exported by the real exporter."""

from __future__ import annotations

from collections.abc import Callable
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


#: Tiny nets of every family that has Conv (random weights: Q/DQ layout, TensorRT parsing and
#: INT8-vs-FP32 agreement do not need trained weights, and nothing here needs VGG).
TINY_FAMILIES: dict[str, dict[str, object]] = {
    "johnson": {"base_channels": 4, "num_residual": 1},  # (trained: tiny_onnx)
    "cin": {"base_channels": 4, "num_residual": 1, "num_styles": 2},
    "stylebank": {"base_channels": 4, "num_styles": 2},
    "texture": {"scales": 3, "block_channels": 4},
    "texture_style": {"scales": 3, "block_channels": 4},
    "sr": {"scale": 4, "channels": 4, "num_residual": 1},
    "styleswap": {"base_channels": 4},
}


@pytest.fixture(scope="session")
def family_onnx(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Callable[[str], Path]:
    """``make(family) -> Path``: the family's tiny net (seed 0) exported by the real exporter,
    once per session (unvalidated: tests/export and tests/train validate the exporter).
    Johnson is the suite's trained ``tiny_onnx``, which the other INT8 tests use anyway."""
    made: dict[str, Path] = {}

    def make(family: str) -> Path:
        if family == "johnson":
            return Path(request.getfixturevalue("tiny_onnx"))
        if family not in made:
            import torch

            from nst.config import config_to_dict
            from nst.export.onnx_export import export_checkpoint
            from nst.train.checkpoint import save_checkpoint
            from nst.train.models import build_model

            folder = tmp_path_factory.mktemp(f"family-{family}")
            torch.manual_seed(0)
            net = build_model(family, dict(TINY_FAMILIES[family]))
            styles = int(TINY_FAMILIES[family].get("num_styles", 1))  # type: ignore[call-overload]
            checkpoint = folder / "net.pt"
            save_checkpoint(checkpoint, {
                "family": family, "model_config": config_to_dict(net.config),
                "train_config": {"untrained": True}, "styles": [f"style_{i}" for i in range(styles)],
                "state_dict": net.state_dict(), "optimizer": {}, "step": 0, "history": [], "rng": {},
            })  # fmt: skip
            made[family] = export_checkpoint(checkpoint, folder / f"{family}.onnx", validate=False).path
        return made[family]

    return make
