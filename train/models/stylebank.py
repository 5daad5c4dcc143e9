"""Chen, Yuan, Liao, Yu & Hua 2017, "StyleBank: An Explicit Representation for Neural Image
Style Transfer": a shared auto-encoder with one convolutional filter bank per style.

    image -> encoder E -> features F -> bank K_i (one per style) -> decoder D -> stylized
    image -> encoder E -> features F ----------------------------> decoder D -> reconstruction

Styles live only in the banks, so a new style is a new bank trained with E and D frozen
(incremental learning in the paper), and styles fuse in feature space: the exported graph mixes
bank outputs per pixel with a weight map built from ``style_weights`` [S] and
``style_masks`` [N, S, Hm, Wm]:

    m = avgpool4(pad(resize(style_masks, H x W)))      # (N, S, H/4, W/4), the feature grid
    m = m * style_weights / sum_s(m * style_weights)   # renormalised per pixel
    fused = sum_s m[:, s] * K_s(F)

Uniform masks give linear fusion by ``style_weights``; one-hot masks with uniform weights
give region fusion; both combine multiplicatively. A pixel whose every masked style has
weight 0 gets zero features (the renormalisation's denominator is clamped, not divided by 0).

The decoder has no normalisation on purpose: a global statistic after the fusion point would
couple the regions, whereas with a local decoder each region away from a boundary equals the
single-style output exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from nst.contract.spec import ExportSpec, TensorSpec, image_tensor
from nst.errors import InputError
from nst.train.models.blocks import ConvLayer, downsampling_encoder, output_range, pad_to_multiple


@dataclass(frozen=True)
class StyleBankConfig:
    """Auto-encoder width, number of styles (banks) and conv layers per bank (3 in the paper)."""

    base_channels: int = 32
    num_styles: int = 1
    bank_layers: int = 3

    def __post_init__(self) -> None:
        if self.base_channels < 1 or self.num_styles < 1 or self.bank_layers < 1:
            raise InputError(f"invalid StyleBankConfig {self}")


class StyleBankNet(nn.Module):
    """(image (N,3,H,W), style_weights (S,), style_masks (N,S,Hm,Wm)) -> stylized (N,3,H,W)."""

    family: ClassVar[str] = "stylebank"
    STRIDE: ClassVar[int] = 4
    MIN_SIZE: ClassVar[int] = 16

    def __init__(self, config: StyleBankConfig | None = None) -> None:
        super().__init__()
        self.config = config or StyleBankConfig()
        c = self.config.base_channels
        self.encoder = downsampling_encoder(c)  # (N, 4c, H/4, W/4)
        self.banks = nn.ModuleList([self.new_bank() for _ in range(self.config.num_styles)])
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            ConvLayer(4 * c, 2 * c, 3, norm=False),  # (N, 2c, H/2, W/2)
            nn.Upsample(scale_factor=2, mode="nearest"),
            ConvLayer(2 * c, c, 3, norm=False),  # (N, c, H, W)
            ConvLayer(c, 3, 9, norm=False, relu=False),  # (N, 3, H, W)
        )

    def new_bank(self) -> nn.Sequential:
        """One style's filter bank: ``bank_layers`` 3x3 convs on the (N, 4c, H/4, W/4) features."""
        c4 = 4 * self.config.base_channels
        return nn.Sequential(*[ConvLayer(c4, c4, 3) for _ in range(self.config.bank_layers)])

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, 4c, ceil(H/4), ceil(W/4)) features of the reflect-padded image."""
        return self.encoder(pad_to_multiple(image, self.STRIDE))

    def decode(self, features: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Features -> (N, 3, height, width) image in [0, 1] (padding cropped off)."""
        return output_range(self.decoder(features)[:, :, :height, :width])

    def reconstruct(self, image: torch.Tensor) -> torch.Tensor:
        """The auto-encoder branch D(E(x)), trained with the identity loss."""
        return self.decode(self.encode(image), image.shape[-2], image.shape[-1])

    def stylize_map(
        self, image: torch.Tensor, weight_map: torch.Tensor, banks: Sequence[int] | None = None
    ) -> torch.Tensor:
        """Stylize with per-pixel style weights.

        Args:
            image: (N, 3, H, W) in [0, 1].
            weight_map: (N, S, h, w) on the feature grid, or (N, S, 1, 1) for one mix per
                image; should sum to 1 over S.
            banks: Only these banks run (training: the styles drawn for the batch; the others
                have weight 0 everywhere). None runs all, as the exported graph does.
        """
        features = self.encode(image)  # (N, 4c, h, w)
        fused = torch.zeros_like(features)
        for s in range(len(self.banks)) if banks is None else banks:
            fused = fused + weight_map[:, s : s + 1] * self.banks[s](features)  # (N,1,h,w) * (N,4c,h,w)
        return self.decode(fused, image.shape[-2], image.shape[-1])

    def forward(
        self, image: torch.Tensor, style_weights: torch.Tensor, style_masks: torch.Tensor
    ) -> torch.Tensor:
        h, w = image.shape[-2], image.shape[-1]
        masks = F.interpolate(style_masks, size=(h, w), mode="bilinear", align_corners=False)  # (N,S,H,W)
        # the mean over each 4x4 cell of the padded image is the mask of one feature pixel
        masks = F.avg_pool2d(pad_to_multiple(masks, self.STRIDE), self.STRIDE)  # (N, S, h, w)
        weighted = masks * style_weights.reshape(1, -1, 1, 1)  # (N, S, h, w)
        weighted = weighted / weighted.sum(dim=1, keepdim=True).clamp_min(1e-6)
        return self.stylize_map(image, weighted)

    def export_spec(self) -> ExportSpec:
        """``image`` + ``style_weights`` [S] + ``style_masks`` [N, S, Hm, Wm] -> ``stylized``."""
        s = self.config.num_styles
        inputs = (
            image_tensor("image", "content image, RGB in [0, 1]"),
            TensorSpec("style_weights", (s,), doc="convex mix of the styles (>= 0, sum 1)"),
            TensorSpec(
                "style_masks", ("batch", s, "mask_height", "mask_width"),
                doc="per-pixel style masks (>= 0, sum 1 over styles), any resolution",
            ),
        )  # fmt: skip
        # TensorRT: masks at any resolution from the 16 x 16 uniform default up to the largest image
        masks = {"mask_height": (self.MIN_SIZE, 16, 2160), "mask_width": (self.MIN_SIZE, 16, 3840)}
        return ExportSpec(family=self.family, pad_multiple=self.STRIDE, min_size=self.MIN_SIZE, inputs=inputs,
                          axis_profiles=masks)  # fmt: skip

    def example_inputs(
        self, batch: int, height: int, width: int, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        """Random image, convex weights and per-pixel convex masks at another resolution."""
        s = self.config.num_styles
        image = torch.rand(batch, 3, height, width, generator=generator)
        raw = torch.rand(s, generator=generator) + 0.05
        mh, mw = max(self.MIN_SIZE, height // 2 + 1), max(self.MIN_SIZE, width // 3 + 2)
        masks = torch.rand(batch, s, mh, mw, generator=generator) + 0.05
        return {
            "image": image,
            "style_weights": raw / raw.sum(),
            "style_masks": masks / masks.sum(1, keepdim=True),
        }
