"""Fixtures of the serve tests: tiny models, encoded images, and a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="nst serve needs the serve extra")

from nst.runtime.base import Runner
from nst.runtime.registry import open_runner
from nst.serve.app import create_app
from nst.serve.options import ServeOptions
from nst.serve.server import running_server
from tests.serve.models import served_models


@pytest.fixture(scope="session")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("serve_models")
    return served_models(folder)


def encoded(width: int, height: int, fmt: str = "PNG", *, seed: int = 0, mode: str = "RGB") -> bytes:
    """A random image of ``width`` x ``height``, encoded."""
    rng = np.random.default_rng(seed)
    channels = len(mode)
    pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels if channels > 1 else pixels[:, :, 0], mode).save(buffer, format=fmt)
    return buffer.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def open_models(files: Mapping[str, Path]) -> dict[str, Runner]:
    return {name: open_runner(path, providers="cpu") for name, path in files.items()}


@contextmanager
def serving(options: ServeOptions, runners: Mapping[str, Runner] | None = None) -> Iterator[str]:
    """A real uvicorn server of ``create_app(options, runners=...)`` on a free port; yields its URL."""
    app = create_app(options, runners=runners)
    with running_server(app, options) as url:
        yield url


@pytest.fixture(scope="module")
def server(model_files: dict[str, Path]) -> Iterator[str]:
    """One server with the three tiny models and small limits, shared by a module's tests."""
    options = ServeOptions(models=model_files, max_body_mb=1, max_pixels=200_000, timeout_s=10)
    with serving(options) as url:
        yield url
