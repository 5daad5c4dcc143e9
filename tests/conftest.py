"""Shared fixtures: VGG weights, a tiny content folder, a tiny trained checkpoint and its ONNX.

Nothing is downloaded. The VGG-16 weights come from ``$NST_VGG_WEIGHTS`` or
``../shared/weights/vgg16_imagenet_features.pth``; where neither exists the tests that need
them skip, unless ``NST_REQUIRE_VGG=1`` (set by ``.ci/run``) turns that into a failure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_VGG = REPO.parent / "shared" / "weights" / "vgg16_imagenet_features.pth"


def _has_gpu() -> bool:
    """A CUDA device node exists (no CUDA library is imported to find out)."""
    return Path("/dev/nvidia0").exists() or Path("/dev/nvidiactl").exists()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``gpu`` tests without a CUDA GPU and ``trt`` tests without the tensorrt package."""
    import importlib.util

    absent = {
        "gpu": None if _has_gpu() else "no CUDA GPU on this machine",
        "trt": None if importlib.util.find_spec("tensorrt") else "tensorrt is not installed",
    }
    for item in items:
        for marker, reason in absent.items():
            if reason and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=reason))


def synthetic_photo(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth colour field with a few rectangles: photo-like enough for tiny training runs."""
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([np.sin(6 * xx * rng.uniform(0.5, 2) + rng.uniform(0, 6)) for _ in range(3)], axis=2)
    image = 0.5 + 0.3 * base + 0.2 * yy[..., None]
    for _ in range(4):
        y0, x0 = rng.integers(0, height // 2), rng.integers(0, width // 2)
        image[y0 : y0 + height // 3, x0 : x0 + width // 3] = rng.uniform(0, 1, 3)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="session")
def vgg_weights() -> Path:
    env = os.environ.get("NST_VGG_WEIGHTS")
    path = Path(env) if env else SHARED_VGG
    if not path.is_file():
        if os.environ.get("NST_REQUIRE_VGG") == "1":
            pytest.fail(f"VGG-16 weights not found at {path} (NST_REQUIRE_VGG=1)")
        pytest.skip(f"VGG-16 weights not found at {path}; set NST_VGG_WEIGHTS")
    return path


@pytest.fixture(scope="session")
def content_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 synthetic 48x64 content images."""
    folder = tmp_path_factory.mktemp("content")
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(synthetic_photo(rng, 48, 64)).save(folder / f"img{i:02d}.png")
    return folder


@pytest.fixture(scope="session")
def style_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A striped 64x64 style image with strong, easy-to-measure texture."""
    path = tmp_path_factory.mktemp("style") / "stripes.png"
    yy, xx = np.mgrid[0:64, 0:64]
    stripes = ((xx + yy) // 4) % 2
    image = np.stack([stripes * 230, 40 + stripes * 60, 200 - stripes * 150], axis=2).astype(np.uint8)
    Image.fromarray(image).save(path)
    return path


def tiny_train_config(content: Path, style: Path, vgg: Path, **overrides: object):
    from nst.train.config import TrainConfig

    values: dict[str, object] = dict(
        family="johnson", content_dir=str(content), styles=(str(style),),
        model={"base_channels": 4, "num_residual": 1}, steps=4, batch_size=2, image_size=32,
        style_size=48, log_every=2, sample_every=2, checkpoint_every=2, device="cpu", vgg_weights=str(vgg),
    )  # fmt: skip
    values.update(overrides)
    return TrainConfig(**values)  # type: ignore[arg-type]


def train_and_export(tmp_path_factory: pytest.TempPathFactory, name: str, config: Any) -> tuple[Any, Any]:
    """Train ``config`` in a fresh run folder and export ``<name>.onnx`` there (validated).

    Returns:
        (TrainResult, ExportResult); the ONNX file is ``ExportResult.path``.
    """
    from nst.export.onnx_export import export_checkpoint
    from nst.train.loop import train

    run = tmp_path_factory.mktemp(name)
    result = train(config, run, progress=False)
    return result, export_checkpoint(result.checkpoint, run / f"{name}.onnx")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory, content_dir: Path, style_image: Path,
                    vgg_weights: Path) -> Path:  # fmt: skip
    from nst.train.loop import train

    run = tmp_path_factory.mktemp("run")
    result = train(tiny_train_config(content_dir, style_image, vgg_weights), run, progress=False)
    return result.checkpoint


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> Path:
    from nst.export.onnx_export import export_checkpoint

    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    export_checkpoint(tiny_checkpoint, out, validate=True)
    return out
