"""Texture synthesis on the serving path (Ulyanov et al. 2016 texture nets), torch-free.

The noise inputs are made here, on the host, from a seed with NumPy's PCG64 generator, so
the same model, seed and size give the same texture with every backend and on every machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nst.contract.noise import MIN_NOISE, seeded_noise
from nst.errors import InputError, ModelError
from nst.io import check_writable, write_image
from nst.runtime.base import Runner

TEXTURE_FAMILY = "texture"


@dataclass(frozen=True)
class SynthResult:
    """One synthesized texture file."""

    path: Path
    size: tuple[int, int]
    seed: int


def parse_size(text: str) -> tuple[int, int]:
    """``"2048x1024"`` (WIDTHxHEIGHT) -> (width, height)."""
    w, sep, h = text.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        raise InputError(f"size must be WIDTHxHEIGHT, e.g. 1024x2048, got {text!r}")
    return int(w), int(h)


def synthesize(runner: Runner, width: int, height: int, seed: int) -> np.ndarray:
    """One (H, W, 3) float32 texture in [0, 1].

    Raises:
        ModelError: The model is not a texture net.
        InputError: The size is too small for the model's coarsest scale.
    """
    if runner.metadata.family != TEXTURE_FAMILY:
        raise ModelError(f"{runner.metadata.family!r} models stylize images; nst synth needs a texture model")
    scales = len(runner.spec.inputs)
    low = MIN_NOISE * 2 ** (scales - 1)
    if min(width, height) < low:
        raise InputError(f"texture size {width}x{height} too small: a {scales}-scale net needs >= {low} px")
    feeds = seeded_noise(scales, 1, height, width, seed)
    out = runner.infer(feeds)[runner.spec.outputs[0].name]  # (1, 3, H, W)
    return np.clip(out[0].transpose(1, 2, 0), 0.0, 1.0)


def synth_file(
    model: str | Path, size: tuple[int, int], seed: int, output: str | Path, *, force: bool = False,
    providers: str | Sequence[str] = "auto",
) -> SynthResult:  # fmt: skip
    """Synthesize a ``size`` = (width, height) texture from ``seed`` into ``output``."""
    from nst.runtime.registry import open_runner

    out = check_writable(output, force=force)
    with open_runner(model, providers=providers) as runner:
        rgb = synthesize(runner, size[0], size[1], seed)
    write_image(out, rgb, force=force)
    return SynthResult(out, size, seed)
