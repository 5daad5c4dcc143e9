"""Super-resolution on the serving path: run an exported ``sr`` model on arrays and files.

Torch-free; any model file ``open_runner`` takes (ONNX or a TensorRT engine). Alpha, when the
input has it, is resized with bicubic interpolation; the network only sees RGB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from nst.errors import InputError, ModelError
from nst.io import DEFAULT_MAX_PIXELS, check_writable, read_image, write_image
from nst.runtime.base import Runner
from nst.runtime.registry import open_runner

SR_FAMILY = "sr"


@dataclass(frozen=True)
class UpscaleResult:
    """One upscaled file."""

    path: Path
    input_size: tuple[int, int]
    output_size: tuple[int, int]


def check_sr_model(runner: Runner) -> int:
    """Return the model's scale factor, or raise if it is not a super-resolution model.

    Raises:
        ModelError: The model's family is not ``sr``.
    """
    family = runner.metadata.family
    if family != SR_FAMILY:
        raise ModelError(f"{family!r} models stylize; nst upscale needs a super-resolution ('sr') model")
    config = runner.metadata.describe().get("nst.model_config", {})
    return int(config.get("scale", 4)) if isinstance(config, dict) else 4


def upscale_array(runner: Runner, rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1] -> (s*H, s*W, 3) float32 in [0, 1]."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"expected an (H, W, 3) RGB array, got shape {rgb.shape}")
    feed = {runner.spec.inputs[0].name: np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], np.float32)}
    out = runner.infer(feed)[runner.spec.outputs[0].name]  # (1, 3, sH, sW)
    return np.clip(out[0].transpose(1, 2, 0), 0.0, 1.0)


def upscale_file(
    model: str | Path, source: str | Path, target: str | Path, *, force: bool = False,
    providers: str | Sequence[str] = "auto", max_pixels: int = DEFAULT_MAX_PIXELS,
) -> UpscaleResult:  # fmt: skip
    """Upscale one image file with an exported ``sr`` model.

    Raises:
        ModelError: Not a super-resolution model, or the model cannot run.
        InputImageError: The input cannot be read.
        OutputExistsError: ``target`` exists and ``force`` is false (checked before any work).
    """
    out = check_writable(target, force=force)
    image = read_image(source, max_pixels=max_pixels)
    with open_runner(model, providers=providers) as runner:
        check_sr_model(runner)
        rgb = upscale_array(runner, image.rgb)
    alpha = None
    if image.alpha is not None:
        resized = Image.fromarray(image.alpha).resize((rgb.shape[1], rgb.shape[0]), Image.Resampling.BICUBIC)
        alpha = np.clip(np.asarray(resized), 0.0, 1.0)
    write_image(out, rgb, alpha=alpha, force=force)
    return UpscaleResult(out, image.size, (rgb.shape[1], rgb.shape[0]))
