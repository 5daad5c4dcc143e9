"""Validation of an exported ONNX model against its PyTorch source (Optimum's
``validate_model_outputs`` habit): run both at several sizes, odd ones included."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nst.contract.spec import ExportSpec
from nst.errors import ValidationError


@dataclass(frozen=True)
class SizeCheck:
    """Result at one (N, H, W)."""

    shape: tuple[int, int, int]
    max_abs_diff: float


def validate_onnx(
    model: nn.Module, onnx_path: Path, spec: ExportSpec,
    sizes: tuple[tuple[int, int, int], ...] | None = None, seed: int = 0,
) -> list[SizeCheck]:  # fmt: skip
    """Compare ONNX Runtime (CPU) and PyTorch outputs on the model's random example inputs.

    The model provides ``example_inputs(batch, height, width, generator)`` (every family does),
    so families with extra inputs (style weights, masks, noise) are validated the same way.

    Returns:
        One :class:`SizeCheck` per size (the max over all outputs).

    Raises:
        ValidationError: If any output differs by more than ``spec.atol`` (or shapes differ).
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    checks = []
    model = model.eval()
    names = [t.name for t in spec.outputs]
    for n, h, w in sizes or spec.validation_sizes:
        feeds = model.example_inputs(n, h, w, generator)  # type: ignore[operator]
        with torch.no_grad():
            expected = model(*feeds.values())
        expected = expected if isinstance(expected, tuple | list) else (expected,)
        actual = session.run(names, {k: v.numpy() for k, v in feeds.items()})
        diff = 0.0
        for name, a, e in zip(names, actual, expected, strict=True):
            if a.shape != tuple(e.shape):
                raise ValidationError(f"ONNX output {name!r} shape {a.shape} != PyTorch {tuple(e.shape)}")
            diff = max(diff, float(np.abs(a - e.numpy()).max()))
        checks.append(SizeCheck((n, h, w), diff))
        if not diff <= spec.atol:  # also catches NaN
            raise ValidationError(
                f"ONNX Runtime differs from PyTorch at {n}x3x{h}x{w}: "
                f"max abs diff {diff:.3g} > atol {spec.atol:g}",
                max_abs_diff=diff,
            )
    return checks
