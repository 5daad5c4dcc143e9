"""ExportSpec: the I/O contract of an exported family, as data.

One spec drives ``torch.onnx.export`` (names, dynamic axes), validation (sizes, tolerance),
runtime input checks and TensorRT optimisation profiles. This module imports no torch, so
the serving path can read specs back from model metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from nst.config import config_from_dict, config_to_dict
from nst.errors import InputError

Dim = int | str  # a fixed size or the name of a dynamic axis


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: name, shape (ints or axis names), dtype and value range."""

    name: str
    shape: tuple[Dim, ...]
    dtype: str = "float32"
    range: tuple[float, float] | None = (0.0, 1.0)
    doc: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorSpec:
        spec = config_from_dict(cls, data)
        rng = tuple(spec.range) if spec.range is not None else None
        return TensorSpec(spec.name, tuple(spec.shape), spec.dtype, rng, spec.doc)  # type: ignore[arg-type]


def image_tensor(name: str, doc: str) -> TensorSpec:
    """The standard image tensor: float32 [N, 3, H, W], RGB in [0, 1]."""
    return TensorSpec(name, ("batch", 3, "height", "width"), doc=doc)


@dataclass(frozen=True)
class ExportSpec:
    """How a family exports, validates and runs.

    Attributes:
        family: Model family name.
        inputs: Graph inputs, in order.
        outputs: Graph outputs, in order.
        opset: ONNX opset.
        atol: Max abs difference ONNX Runtime vs PyTorch accepted by validation.
        pad_multiple: The graph reflect-pads H and W to this multiple and crops back.
        min_size: Smallest H and W the graph accepts.
        validation_sizes: (N, H, W) checked after every export; odd sizes on purpose.
        profile: TensorRT optimisation profile for the image input: min/opt/max (N, H, W).
        axis_min: Smallest size of named axes other than the image's (default ``min_size``).
        axis_profiles: TensorRT min/opt/max of named axes independent of the image (e.g. the
            style image's of style-swap).
        axis_scales: Named axes that follow an image axis: ``axis -> (image_axis, divisor)``
            means ceil(image_axis / divisor) (e.g. texture nets' coarser noise).
    """

    family: str
    inputs: tuple[TensorSpec, ...] = (image_tensor("image", "content image, RGB in [0, 1]"),)
    outputs: tuple[TensorSpec, ...] = (image_tensor("stylized", "stylized image, RGB in [0, 1]"),)
    opset: int = 18
    atol: float = 1e-4
    pad_multiple: int = 4
    min_size: int = 16
    validation_sizes: tuple[tuple[int, int, int], ...] = ((1, 97, 131), (2, 333, 517), (1, 64, 64))
    profile: dict[str, tuple[int, int, int]] = field(
        default_factory=lambda: {"min": (1, 16, 16), "opt": (1, 720, 1280), "max": (4, 2160, 3840)}
    )
    axis_min: dict[str, int] = field(default_factory=dict)
    axis_profiles: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    axis_scales: dict[str, tuple[str, int]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(config_to_dict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ExportSpec:
        data = json.loads(text)
        data["inputs"] = tuple(TensorSpec.from_dict(t) for t in data.get("inputs", []))
        data["outputs"] = tuple(TensorSpec.from_dict(t) for t in data.get("outputs", []))
        data["validation_sizes"] = tuple(tuple(s) for s in data.get("validation_sizes", []))
        data["profile"] = {k: tuple(v) for k, v in data.get("profile", {}).items()}
        data["axis_profiles"] = {k: tuple(v) for k, v in data.get("axis_profiles", {}).items()}
        data["axis_scales"] = {k: tuple(v) for k, v in data.get("axis_scales", {}).items()}
        return config_from_dict(cls, data)

    def check_image_size(self, height: int, width: int) -> None:
        """Raise :class:`InputError` if H x W is below the graph's minimum."""
        if height < self.min_size or width < self.min_size:
            raise InputError(
                f"image {width}x{height} is too small for a {self.family} model: "
                f"width and height must be >= {self.min_size}"
            )
