"""Building blocks shared by the feed-forward families.

Every conv pads by reflection (Johnson et al. 2016 supplementary; avoids border artefacts) and
every upsampling is nearest-neighbour resize followed by a conv instead of a transposed conv,
which removes checkerboard artefacts (Odena et al., distill.pub 2016).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvLayer(nn.Sequential):
    """Reflection pad + conv (+ optional instance norm and ReLU)."""

    def __init__(
        self, cin: int, cout: int, kernel: int, stride: int = 1, *, norm: bool = True,
        relu: bool = True,
    ) -> None:  # fmt: skip
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(kernel // 2),
            nn.Conv2d(cin, cout, kernel, stride),
        ]
        if norm:
            layers.append(nn.InstanceNorm2d(cout, affine=True))
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class UpsampleConv(nn.Sequential):
    """Nearest-neighbour x2 upsample, then :class:`ConvLayer`."""

    def __init__(self, cin: int, cout: int, kernel: int) -> None:
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvLayer(cin, cout, kernel))


def downsampling_encoder(c: int) -> nn.Sequential:
    """Johnson et al.'s stem: 9x9 conv, then two stride-2 3x3 convs; (N, 3, H, W) -> (N, 4c, H/4, W/4)."""
    return nn.Sequential(
        ConvLayer(3, c, 9),  # (N, c, H, W)
        ConvLayer(c, 2 * c, 3, stride=2),  # (N, 2c, H/2, W/2)
        ConvLayer(2 * c, 4 * c, 3, stride=2),  # (N, 4c, H/4, W/4)
    )


class ResidualBlock(nn.Module):
    """Two 3x3 convs with instance norm and an identity shortcut (He et al. 2016)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvLayer(channels, channels, 3),
            ConvLayer(channels, channels, 3, relu=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad the bottom/right of (N, C, H, W) so H and W are multiples of ``multiple``.

    Written with shape arithmetic so it exports to ONNX as Shape/Mod/Pad and any H x W runs.
    """
    h, w = x.shape[-2], x.shape[-1]
    pad_h = (multiple - h % multiple) % multiple
    pad_w = (multiple - w % multiple) % multiple
    return F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")


def output_range(x: torch.Tensor) -> torch.Tensor:
    """Scaled tanh to [0, 1], the paper's output layer (there: [0, 255])."""
    return (torch.tanh(x) + 1.0) * 0.5
