"""Johnson, Alahi & Fei-Fei 2016, Sec. 4.2: single-image super-resolution with perceptual loss.

Layout (supplementary Table 2): 9x9 conv -> residual blocks at the *low* resolution ->
log2(scale) x2 upsampling stages -> 9x9 conv to RGB; trained with feature reconstruction loss
on relu2_2 only. Two deliberate changes, both for short training runs and clean export:

* upsampling is nearest resize + conv, not fractionally-strided conv (no checkerboard,
  Odena et al. 2016), as in every family here;
* the net predicts a residual over bilinear upsampling (a global skip, Kim et al. 2016,
  VDSR) and its residual blocks have no batch norm (Lim et al. 2017, EDSR): at minute-scale
  CPU training the plain net is still a blur, the residual form starts at bilinear quality.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from nst.contract.spec import ExportSpec, TensorSpec, image_tensor
from nst.errors import InputError

SCALES = (4, 8)


@dataclass(frozen=True)
class SRConfig:
    """Scale factor (4 or 8), width and depth; the paper uses 64 channels and 4 blocks."""

    scale: int = 4
    channels: int = 64
    num_residual: int = 4

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise InputError(f"scale must be one of {SCALES}, got {self.scale}")
        if self.channels < 1 or self.num_residual < 0:
            raise InputError(f"invalid SRConfig {self}")


def _conv(cin: int, cout: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel))


class _PlainResidual(nn.Module):
    """conv-ReLU-conv + identity, no normalisation (EDSR)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(channels, channels, 3), nn.ReLU(inplace=True), _conv(channels, channels, 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _Upsample(nn.Sequential):
    """Nearest x2 + 3x3 conv + ReLU, without instance norm (it would erase image statistics)."""

    def __init__(self, channels: int) -> None:
        up = nn.Upsample(scale_factor=2, mode="nearest")
        super().__init__(up, _conv(channels, channels, 3), nn.ReLU(inplace=True))


class SRNet(nn.Module):
    """Low-resolution (N, 3, h, w) in [0, 1] -> (N, 3, scale*h, scale*w) in [0, 1]."""

    family: ClassVar[str] = "sr"
    MIN_SIZE: ClassVar[int] = 8  # 9x9 reflection padding needs sides > 4

    def __init__(self, config: SRConfig | None = None) -> None:
        super().__init__()
        self.config = config or SRConfig()
        c = self.config.channels
        stages = self.config.scale.bit_length() - 1  # log2(scale)
        self.head = nn.Sequential(_conv(3, c, 9), nn.ReLU(inplace=True))  # (N, c, h, w)
        self.residuals = nn.Sequential(*[_PlainResidual(c) for _ in range(self.config.num_residual)])
        self.upsample = nn.Sequential(*[_Upsample(c) for _ in range(stages)])  # (N, c, sh, sw)
        self.tail = _conv(c, 3, 9)  # (N, 3, sh, sw)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        s = self.config.scale
        base = F.interpolate(image, scale_factor=s, mode="bilinear", align_corners=False)  # (N, 3, sh, sw)
        x = self.head(image)
        x = self.upsample(x + self.residuals(x))
        return (base + self.tail(x)).clamp(0.0, 1.0)

    def export_spec(self) -> ExportSpec:
        """``image`` (low resolution) -> ``upscaled`` (``scale`` times larger)."""
        return ExportSpec(
            family=self.family,
            inputs=(image_tensor("image", "low-resolution image, RGB in [0, 1]"),),
            outputs=(TensorSpec("upscaled", ("batch", 3, "out_height", "out_width"),
                                doc=f"x{self.config.scale} image, RGB in [0, 1]"),),
            pad_multiple=1, min_size=self.MIN_SIZE,
            validation_sizes=((1, 23, 37), (2, 16, 17), (1, 32, 32)),
            profile={"min": (1, 8, 8), "opt": (1, 256, 256), "max": (1, 540, 960)},
        )  # fmt: skip

    def example_inputs(
        self, batch: int, height: int, width: int, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        return {"image": torch.rand(batch, 3, height, width, generator=generator)}


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with reflection padding; (N, C, H, W) -> same shape."""
    radius = max(1, int(3 * sigma + 0.5))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = images.shape[1]
    padded = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1).contiguous(), groups=c)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1).contiguous(), groups=c)


def degrade(images: torch.Tensor, scale: int, sigma: float = 1.0) -> torch.Tensor:
    """The paper's training degradation: Gaussian blur (sigma 1.0), then bicubic downsampling.

    Args:
        images: (N, 3, H, W) high-resolution images, H and W multiples of ``scale``.
        scale: Downsampling factor.
        sigma: Blur width in high-resolution pixels.

    Returns:
        (N, 3, H/scale, W/scale) in [0, 1].
    """
    if images.shape[-1] % scale or images.shape[-2] % scale:
        raise InputError(f"image sides {tuple(images.shape[-2:])} must be multiples of the scale {scale}")
    small = F.interpolate(gaussian_blur(images, sigma), scale_factor=1 / scale, mode="bicubic",
                          align_corners=False)  # fmt: skip
    return small.clamp(0.0, 1.0)
