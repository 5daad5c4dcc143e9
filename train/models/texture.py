"""Ulyanov, Lebedev, Vedaldi & Lempitsky 2016, "Texture Networks": the multi-scale generator.

Texture configuration (paper Sec. 3 and Fig. 2): K noise tensors z_1..z_K at scales 1, 1/2, ...,
1/2^(K-1); each goes through a conv block (3x3, 3x3, 1x1 convs with 8 channels, normalisation,
LeakyReLU); from the coarsest scale up, the running result is upsampled x2, normalised and
*joined* (channel concat) with the next finer block's output, then passed through a conv block
of the joined width (8, 16, 24, ... channels). A final 1x1 conv gives RGB. With K = 5 that is
about 65K parameters, the paper's figure. Trained with the Gram loss of Gatys et al. only.

Deliberate choices:
* instance norm instead of batch norm (Ulyanov et al.'s own follow-up, 2016), so training
  with tiny CPU batches and inference agree;
* each upsampling resizes to the *finer noise's exact size* (nearest), so noise sizes need not
  be powers of two apart and any output size works; the host makes ``noise_k`` of size
  ceil(H / 2^k) x ceil(W / 2^k) from a seed (:func:`nst.runtime.synth.seeded_noise`, ``nst synth``), so the
  same seed and size give the same image on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from nst.contract.noise import MIN_NOISE, NOISE_CHANNELS, noise_shapes
from nst.contract.spec import ExportSpec, TensorSpec, image_tensor
from nst.errors import InputError
from nst.train.models.blocks import pad_to_multiple


@dataclass(frozen=True)
class TextureConfig:
    """Number of scales K and channels per block (5 and 8 in the paper's texture net)."""

    scales: int = 5
    block_channels: int = 8

    def __post_init__(self) -> None:
        if not 1 <= self.scales <= 6:  # 6 scales: the coarsest noise of a 64 px export example is 2 px
            raise InputError(f"scales must be in 1..6, got {self.scales}")
        if self.block_channels < 1:
            raise InputError(f"block_channels must be >= 1, got {self.block_channels}")


def conv_block(cin: int, cout: int) -> nn.Sequential:
    """3x3 -> 3x3 -> 1x1 conv, each with instance norm and LeakyReLU (paper Fig. 2)."""
    layers: list[nn.Module] = []
    for i, k in enumerate((3, 3, 1)):
        layers += [nn.ReflectionPad2d(k // 2), nn.Conv2d(cin if i == 0 else cout, cout, k),
                   nn.InstanceNorm2d(cout, affine=True), nn.LeakyReLU(0.2, inplace=True)]  # fmt: skip
    return nn.Sequential(*layers)


class TextureNet(nn.Module):
    """Noise tensors (finest first) -> texture image (N, 3, H, W) in [0, 1]."""

    family: ClassVar[str] = "texture"
    MIN_NOISE: ClassVar[int] = MIN_NOISE  # reflection padding of a 3x3 conv needs sides >= 2

    IN_CHANNELS: ClassVar[int] = NOISE_CHANNELS  # per-scale input channels

    def __init__(self, config: TextureConfig | None = None) -> None:
        super().__init__()
        self.config = config or TextureConfig()
        k, c = self.config.scales, self.config.block_channels
        self.noise_blocks = nn.ModuleList([conv_block(self.IN_CHANNELS, c) for _ in range(k)])
        # join i (coarse -> fine) sees c * (i + 1) channels from below plus c new ones
        self.up_norms = nn.ModuleList([nn.InstanceNorm2d(c * (i + 1), affine=True) for i in range(k - 1)])
        self.join_norms = nn.ModuleList([nn.InstanceNorm2d(c, affine=True) for _ in range(k - 1)])
        self.join_blocks = nn.ModuleList([conv_block(c * (i + 2), c * (i + 2)) for i in range(k - 1)])
        self.to_rgb = nn.Conv2d(c * k, 3, 1)

    @property
    def min_size(self) -> int:
        """Smallest output side: the coarsest noise must still be MIN_NOISE pixels."""
        return self.MIN_NOISE * 2 ** (self.config.scales - 1)

    def forward(
        self, noise_0: torch.Tensor, noise_1: torch.Tensor | None = None, noise_2: torch.Tensor | None = None,
        noise_3: torch.Tensor | None = None, noise_4: torch.Tensor | None = None,
        noise_5: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """Named arguments (not ``*noise``) so torch.export sees one graph input per scale."""
        return self.generate(self.noise_list(noise_0, noise_1, noise_2, noise_3, noise_4, noise_5))

    def noise_list(self, *given: torch.Tensor | None) -> list[torch.Tensor]:
        """The first K of ``given``, checked present."""
        k = self.config.scales
        if any(t is None for t in given[:k]):
            raise InputError(f"a {k}-scale texture net needs noise_0 .. noise_{k - 1}")
        return [t for t in given[:k] if t is not None]

    def generate(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        """Per-scale inputs (finest first, IN_CHANNELS each) -> (N, 3, H, W) in [0, 1]."""
        k = self.config.scales
        x = self.noise_blocks[k - 1](inputs[k - 1])  # (N, c, H/2^(K-1), W/2^(K-1))
        for i in range(k - 1):  # coarse -> fine, a fixed unrolled chain of K-1 joins
            fine = self.noise_blocks[k - 2 - i](inputs[k - 2 - i])  # (N, c, h, w)
            up = F.interpolate(x, size=fine.shape[-2:], mode="nearest")  # (N, c*(i+1), h, w)
            joined = torch.cat([self.up_norms[i](up), self.join_norms[i](fine)], dim=1)  # (N, c*(i+2), h, w)
            x = self.join_blocks[i](joined)
        return torch.sigmoid(self.to_rgb(x))  # (N, 3, H, W)

    def export_spec(self) -> ExportSpec:
        """``noise_0`` .. ``noise_{K-1}`` -> ``texture``; every noise axis is dynamic."""
        inputs = tuple(
            TensorSpec(
                f"noise_{k}",
                ("batch", NOISE_CHANNELS, f"noise_{k}_height", f"noise_{k}_width"),
                doc=f"uniform [0, 1) noise at 1/{2**k} of the output size (ceil)",
            )
            for k in range(self.config.scales)
        )
        return ExportSpec(
            family=self.family, inputs=inputs, outputs=(image_tensor("texture", "texture, RGB in [0, 1]"),),
            pad_multiple=1, min_size=self.MIN_NOISE, axis_scales=self.noise_axis_scales(),
            validation_sizes=((1, 97, 131), (2, 64, 80), (1, 257, 255)),
            profile={"min": (1, 32, 32), "opt": (1, 512, 512), "max": (1, 2048, 2048)},
        )  # fmt: skip

    def noise_axis_scales(self) -> dict[str, tuple[str, int]]:
        """``noise_k_{height,width}`` = ceil(output side / 2^k): TensorRT profiles of every noise input."""
        return {
            f"noise_{k}_{side}": (side, 2**k)
            for k in range(self.config.scales)
            for side in ("height", "width")
        }

    def example_inputs(
        self, batch: int, height: int, width: int, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        """Noise for an H x W texture, shaped as :func:`noise_shapes` says."""
        if min(height, width) < self.min_size:
            raise InputError(f"texture size {width}x{height} is below {self.min_size} px")
        shapes = noise_shapes(self.config.scales, batch, height, width)
        return {f"noise_{k}": torch.rand(s, generator=generator) for k, s in enumerate(shapes)}


class TextureStylizationNet(TextureNet):
    """Ulyanov et al.'s stylization generator: (image, noise_0 .. noise_{K-1}) -> stylized image.

    Each scale's block sees its noise concatenated with the content image at that scale (paper
    Sec. 3: "the content image downsampled" to each noise size). The content pyramid is built in
    the graph by reflect-padding to even sizes and 2x2 average pooling, so level k is
    ceil(H / 2^k) x ceil(W / 2^k), the size of ``noise_k`` (:func:`noise_shapes`); a nearest
    resize to the noise's size (an identity when the host follows that rule) keeps the noise
    axes independent graph dimensions. Trained with content + Gram style + TV loss like the
    Johnson net (:class:`nst.train.tasks_texture.TextureStylizationTask`).
    """

    family: ClassVar[str] = "texture_style"
    IN_CHANNELS: ClassVar[int] = NOISE_CHANNELS + 3

    def forward(  # type: ignore[override]
        self, image: torch.Tensor, noise_0: torch.Tensor | None = None, noise_1: torch.Tensor | None = None,
        noise_2: torch.Tensor | None = None, noise_3: torch.Tensor | None = None,
        noise_4: torch.Tensor | None = None, noise_5: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        noise = self.noise_list(noise_0, noise_1, noise_2, noise_3, noise_4, noise_5)
        level, inputs = image, []
        for k, z in enumerate(noise):
            if k:
                level = F.avg_pool2d(pad_to_multiple(level, 2), 2)  # (N, 3, ceil(h/2), ceil(w/2))
            content = F.interpolate(level, size=z.shape[-2:], mode="nearest")
            inputs.append(torch.cat([z, content], dim=1))  # (N, 6, h_k, w_k)
        return self.generate(inputs)

    def export_spec(self) -> ExportSpec:
        """``image`` + ``noise_0`` .. ``noise_{K-1}`` -> ``stylized``; every axis is dynamic."""
        noise = super().export_spec().inputs
        small = {str(axis): self.MIN_NOISE for t in noise for axis in t.shape[2:]}
        low = self.min_size
        return ExportSpec(
            family=self.family, inputs=(image_tensor("image", "content image, RGB in [0, 1]"), *noise),
            pad_multiple=1, min_size=low, axis_min=small, axis_scales=self.noise_axis_scales(),
            validation_sizes=((1, 97, 131), (2, 64, 80), (1, 257, 255)),
            profile={"min": (1, low, low), "opt": (1, 720, 1280), "max": (4, 2160, 3840)},
        )  # fmt: skip

    def example_inputs(
        self, batch: int, height: int, width: int, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        """A content batch and noise of the matching sizes."""
        noise = super().example_inputs(batch, height, width, generator)
        return {"image": torch.rand(batch, 3, height, width, generator=generator), **noise}
