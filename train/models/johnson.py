"""Johnson, Alahi & Fei-Fei 2016, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution": the image transformation network for style transfer.

Layout (paper, supplementary Table 1), with widths scaled by ``base_channels`` (32 in the paper):
9x9 conv -> two stride-2 3x3 convs -> ``num_residual`` residual blocks -> two x2 upsample+conv
-> 9x9 conv -> scaled tanh. Instance norm replaces batch norm (Ulyanov et al. 2016), which is
what every later implementation and the CIN/StyleBank papers use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from nst.contract.spec import ExportSpec
from nst.errors import InputError, did_you_mean
from nst.train.models.blocks import (
    ConvLayer,
    ResidualBlock,
    UpsampleConv,
    downsampling_encoder,
    output_range,
    pad_to_multiple,
)
from nst.train.models.fast import fast_chain

#: Layouts: the paper's, and the CPU-fast one of :mod:`nst.train.models.fast`.
VARIANTS = ("paper", "fast")


@dataclass(frozen=True)
class JohnsonConfig:
    """Width and depth of the transformer; the paper's net is the default.

    ``JohnsonConfig(base_channels=16, num_residual=3)`` is the slim CPU-friendly variant;
    ``variant="fast"`` is the layout of :mod:`nst.train.models.fast` (stride-2 stem, residual
    width ``2 * base_channels``, pixel-shuffle head; docs/FAST_NET.md).
    """

    base_channels: int = 32
    num_residual: int = 5
    variant: str = "paper"

    def __post_init__(self) -> None:
        if self.base_channels < 1 or self.num_residual < 0:
            raise InputError(f"invalid JohnsonConfig {self}: base_channels >= 1, num_residual >= 0")
        if self.variant not in VARIANTS:
            extra = did_you_mean(self.variant, VARIANTS)
            known = ", ".join(VARIANTS)
            raise InputError(f"unknown johnson variant {self.variant!r} (known: {known}){extra}")


class JohnsonNet(nn.Module):
    """Image (N, 3, H, W) in [0, 1] -> stylized image, same shape, any H and W >= MIN_SIZE."""

    family: ClassVar[str] = "johnson"
    STRIDE: ClassVar[int] = 4  # two stride-2 downsamplings
    MIN_SIZE: ClassVar[int] = 16

    def __init__(self, config: JohnsonConfig | None = None) -> None:
        super().__init__()
        self.config = config or JohnsonConfig()
        c = self.config.base_channels
        if self.config.variant == "fast":
            self.encoder, self.residuals, self.decoder = fast_chain(c, self.config.num_residual)
            return
        self.encoder = downsampling_encoder(c)  # (N, 4c, H/4, W/4)
        self.residuals = nn.Sequential(*[ResidualBlock(4 * c) for _ in range(self.config.num_residual)])
        self.decoder = nn.Sequential(
            UpsampleConv(4 * c, 2 * c, 3),  # (N, 2c, H/2, W/2)
            UpsampleConv(2 * c, c, 3),  # (N, c, H, W)
            ConvLayer(c, 3, 9, norm=False, relu=False),  # (N, 3, H, W)
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2], image.shape[-1]
        x = pad_to_multiple(image, self.STRIDE)
        x = self.decoder(self.residuals(self.encoder(x)))
        return output_range(x[:, :, :h, :w])

    def export_spec(self) -> ExportSpec:
        """I/O contract of the exported graph: ``image`` -> ``stylized``."""
        return ExportSpec(family=self.family, pad_multiple=self.STRIDE, min_size=self.MIN_SIZE)

    def example_inputs(
        self, batch: int, height: int, width: int, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        """Valid random inputs, keyed and ordered like the graph inputs."""
        return {"image": torch.rand(batch, 3, height, width, generator=generator)}
