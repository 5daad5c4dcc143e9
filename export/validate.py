"""Validation of an exported ONNX model against its PyTorch source (Optimum's
``validate_model_outputs`` habit): run both at several sizes, odd ones included."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nst.errors import ValidationError
from nst.export.spec import ExportSpec


@dataclass(frozen=True)
class SizeCheck:
    """Result at one (N, H, W)."""

    shape: tuple[int, int, int]
    max_abs_diff: float


def validate_onnx(
    model: nn.Module, onnx_path: Path, spec: ExportSpec,
    sizes: tuple[tuple[int, int, int], ...] | None = None, seed: int = 0,
) -> list[SizeCheck]:  # fmt: skip
    """Compare ONNX Runtime (CPU) and PyTorch outputs on random images.

    Returns:
        One :class:`SizeCheck` per size.

    Raises:
        ValidationError: If any output differs by more than ``spec.atol`` (or shapes differ).
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    checks = []
    model = model.eval()
    for n, h, w in sizes or spec.validation_sizes:
        image = torch.rand(n, 3, h, w, generator=generator)
        with torch.no_grad():
            expected = model(image).numpy()
        (actual,) = session.run([spec.outputs[0].name], {spec.inputs[0].name: image.numpy()})
        if actual.shape != expected.shape:
            raise ValidationError(
                f"ONNX output shape {actual.shape} != PyTorch {expected.shape} at {n}x3x{h}x{w}"
            )
        diff = float(np.abs(actual - expected).max())
        checks.append(SizeCheck((n, h, w), diff))
        if not diff <= spec.atol:  # also catches NaN
            raise ValidationError(
                f"ONNX Runtime differs from PyTorch at {n}x3x{h}x{w}: "
                f"max abs diff {diff:.3g} > atol {spec.atol:g}",
                max_abs_diff=diff,
            )
    return checks
