"""Dumoulin, Shlens & Kudlur 2017, "A Learned Representation for Artistic Style": one
Johnson-shaped transformer for many styles, where every instance norm is a *conditional*
instance norm holding one (γ, β) pair per style.

The paper's key observation: the styles differ only in the normalisation's scale
and shift, so a style is a point in γ/β space and any convex combination of the per-style
(γ, β) is a valid "interpolated" style. The exported graph takes ``style_weights`` [S] and
computes γ = w @ Γ, β = w @ Β in the graph, so interpolation needs no re-export.

A new style can be learnt by training only a new (γ, β) row with everything else frozen
(as the paper does for new styles); see :mod:`nst.train.tasks_multistyle`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from nst.contract.spec import ExportSpec, TensorSpec, image_tensor
from nst.errors import InputError
from nst.train.models.blocks import output_range, pad_to_multiple


@dataclass(frozen=True)
class CinConfig:
    """Johnson-net widths plus the number of styles held by the γ/β tables."""

    base_channels: int = 32
    num_residual: int = 5
    num_styles: int = 1

    def __post_init__(self) -> None:
        if self.base_channels < 1 or self.num_residual < 0 or self.num_styles < 1:
            raise InputError(f"invalid CinConfig {self}")


class ConditionalInstanceNorm2d(nn.Module):
    """Instance norm whose affine (γ, β) is a weighted mix of per-style rows.

    ``gamma``/``beta`` are (S, C) tables; ``weights`` is (S,) for one mix shared by the batch
    (the exported graph) or (N, S) for one mix per image (training with a style per image).
    """

    def __init__(self, channels: int, num_styles: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(num_styles, channels))  # (S, C)
        self.beta = nn.Parameter(torch.zeros(num_styles, channels))  # (S, C)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        gamma = (weights @ self.gamma).reshape(-1, c, 1, 1)  # (S,)@(S,C) -> (1,C,1,1); (N,S) -> (N,C,1,1)
        beta = (weights @ self.beta).reshape(-1, c, 1, 1)
        return F.instance_norm(x) * gamma + beta


class CinConv(nn.Module):
    """Reflection pad + conv + conditional instance norm (+ ReLU)."""

    def __init__(
        self, cin: int, cout: int, kernel: int, num_styles: int, *, stride: int = 1, relu: bool = True,
        upsample: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        # nearest upsample + conv instead of a transposed conv (Odena et al., distill.pub 2016)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest") if upsample else nn.Identity()
        self.conv = nn.Sequential(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride))
        self.norm = ConditionalInstanceNorm2d(cout, num_styles)
        self.relu = relu

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(self.upsample(x)), weights)
        return F.relu(x) if self.relu else x


class CinResidual(nn.Module):
    """Two 3x3 CIN convs with an identity shortcut."""

    def __init__(self, channels: int, num_styles: int) -> None:
        super().__init__()
        self.a = CinConv(channels, channels, 3, num_styles)
        self.b = CinConv(channels, channels, 3, num_styles, relu=False)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return x + self.b(self.a(x, weights), weights)


class CinNet(nn.Module):
    """(image (N, 3, H, W), style_weights (S,) or (N, S)) -> stylized image, same shape."""

    family: ClassVar[str] = "cin"
    STRIDE: ClassVar[int] = 4
    MIN_SIZE: ClassVar[int] = 16

    def __init__(self, config: CinConfig | None = None) -> None:
        super().__init__()
        self.config = config or CinConfig()
        c, s = self.config.base_channels, self.config.num_styles
        layers: list[nn.Module] = [
            CinConv(3, c, 9, s),  # (N, c, H, W)
            CinConv(c, 2 * c, 3, s, stride=2),  # (N, 2c, H/2, W/2)
            CinConv(2 * c, 4 * c, 3, s, stride=2),  # (N, 4c, H/4, W/4)
            *[CinResidual(4 * c, s) for _ in range(self.config.num_residual)],
            CinConv(4 * c, 2 * c, 3, s, upsample=True),  # (N, 2c, H/2, W/2)
            CinConv(2 * c, c, 3, s, upsample=True),  # (N, c, H, W)
        ]
        self.layers = nn.ModuleList(layers)
        # the output conv has no norm, as in Johnson et al.; it is shared by all styles
        self.head = nn.Sequential(nn.ReflectionPad2d(4), nn.Conv2d(c, 3, 9))

    def norms(self) -> list[ConditionalInstanceNorm2d]:
        """Every conditional norm, in forward order."""
        return [m for m in self.modules() if isinstance(m, ConditionalInstanceNorm2d)]

    def forward(self, image: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2], image.shape[-1]
        x = pad_to_multiple(image, self.STRIDE)
        for layer in self.layers:
            x = layer(x, style_weights)
        return output_range(self.head(x)[:, :, :h, :w])

    def export_spec(self) -> ExportSpec:
        """``image`` + ``style_weights`` [S] -> ``stylized``."""
        s = self.config.num_styles
        weights = TensorSpec("style_weights", (s,), doc="convex mix of the styles (>= 0, sum 1)")
        return ExportSpec(
            family=self.family, pad_multiple=self.STRIDE, min_size=self.MIN_SIZE,
            inputs=(image_tensor("image", "content image, RGB in [0, 1]"), weights),
        )  # fmt: skip

    def example_inputs(
        self, batch: int, height: int, width: int, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        """A random image batch and a random convex style mix."""
        image = torch.rand(batch, 3, height, width, generator=generator)
        raw = torch.rand(self.config.num_styles, generator=generator) + 0.05
        return {"image": image, "style_weights": raw / raw.sum()}
