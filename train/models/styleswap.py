"""Chen & Schmidt 2016, "Fast Patch-based Style Transfer of Arbitrary Style": style-swap.

One graph takes a content ``image`` and any ``style`` image:

1. a frozen VGG-16 encoder up to relu3_1 (the paper's best single layer, Sec. 3.2) embeds both;
2. the *style swap* (Sec. 3.1, :mod:`nst.train.models.swap`) replaces every 3x3 patch of the
   content activations by the most correlated (normalised cross-correlation) 3x3 style patch:
   patches cut out by shifted slices, correlations as one MatMul (P style patches x H'W'
   content windows), ArgMax over P, a Gather of the chosen *un-normalised* patches, and a
   fold that averages the overlapping patches back into place;
3. a trained *inverse network* (Sec. 4) maps the swapped relu3_1 activations back to an image.

The ``strength`` input [1] in [0, 1] is the method's own stylization trade-off: the inverse net
decodes ``s * swap(f) + (1 - s) * f`` of the content activations ``f`` (1: the full swap, 0: the
inverse net's reconstruction of the content). The runtime feeds 1 unless told otherwise, and
``--strength`` goes here for style-swap models instead of into a pixel blend with the photo.

The style patches are computed from the ``style`` input, so their number is data-dependent;
they are matrix rows, never Conv filters, so TensorRT's ONNX parser accepts the graph with
dynamic content and style sizes. There is no loop over patches anywhere.
:func:`styleswap_optimize` is the paper's slow variant: pixel-space L-BFGS towards the swapped
activations with a TV prior.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from nst.contract.spec import ExportSpec, TensorSpec, image_tensor
from nst.errors import InputError
from nst.train.models.blocks import ConvLayer, UpsampleConv, output_range, pad_to_multiple
from nst.train.models.swap import style_swap

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RELU3_1_CHANNELS = 256
STRENGTH_INPUT = "strength"


@dataclass(frozen=True)
class StyleSwapConfig:
    """Inverse-network width and the swap's patch size (3 in the paper)."""

    base_channels: int = 64
    patch_size: int = 3

    def __post_init__(self) -> None:
        if self.base_channels < 1:
            raise InputError(f"base_channels must be >= 1, got {self.base_channels}")
        if self.patch_size < 1 or self.patch_size % 2 == 0:
            raise InputError(f"patch_size must be odd and >= 1, got {self.patch_size}")


def vgg_relu3_1_encoder() -> nn.Sequential:
    """VGG-16 ``features[:12]`` (conv1_1 .. relu3_1), torchvision's layout and parameter names."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.Conv2d(128, 256, 3, padding=1), nn.ReLU(),
    )  # fmt: skip


class InverseNet(nn.Module):
    """relu3_1 activations (N, 256, H/4, W/4) -> image (N, 3, H, W) (Chen & Schmidt Sec. 4).

    Mirrors the encoder: convs with instance norm, two nearest x2 upsample+conv stages.
    """

    def __init__(self, base_channels: int) -> None:
        super().__init__()
        c = base_channels
        self.body = nn.Sequential(
            ConvLayer(RELU3_1_CHANNELS, 2 * c, 3),  # (N, 2c, H/4, W/4)
            UpsampleConv(2 * c, 2 * c, 3),  # (N, 2c, H/2, W/2)
            ConvLayer(2 * c, c, 3),  # (N, c, H/2, W/2)
            UpsampleConv(c, c, 3),  # (N, c, H, W)
            ConvLayer(c, 3, 3, norm=False, relu=False),  # (N, 3, H, W)
        )

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return output_range(self.body(feats))


class StyleSwapNet(nn.Module):
    """(image (N, 3, H, W), style (1, 3, Hs, Ws)) in [0, 1] -> stylized (N, 3, H, W)."""

    family: ClassVar[str] = "styleswap"
    STRIDE: ClassVar[int] = 4  # two VGG max-pools before relu3_1
    MIN_SIZE: ClassVar[int] = 16  # relu3_1 of a 16 px side is 4 >= patch_size

    def __init__(self, config: StyleSwapConfig | None = None) -> None:
        super().__init__()
        self.config = config or StyleSwapConfig()
        if self.config.patch_size > self.MIN_SIZE // self.STRIDE:
            raise InputError(f"patch_size {self.config.patch_size} too large for {self.MIN_SIZE} px inputs")
        self.encoder = vgg_relu3_1_encoder()
        self.encoder.requires_grad_(False)  # the loss network is never trained
        self.decoder = InverseNet(self.config.base_channels)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] -> relu3_1 (N, 256, H/4, W/4), H and W multiples of 4."""
        mean, std = self.get_buffer("mean"), self.get_buffer("std")
        return self.encoder((image - mean) / std)

    def swap(self, content_feats: torch.Tensor, style_feats: torch.Tensor) -> torch.Tensor:
        return style_swap(content_feats, style_feats, self.config.patch_size)

    def forward(
        self, image: torch.Tensor, style: torch.Tensor, strength: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``strength`` (1,) in [0, 1] blends the swapped features with the content's; None: 1."""
        h, w = image.shape[-2], image.shape[-1]
        content_feats = self.encode(pad_to_multiple(image, self.STRIDE))  # (N, 256, H/4, W/4)
        style_feats = self.encode(style)  # (1, 256, Hs/4, Ws/4), floor: no padding needed
        feats = self.swap(content_feats, style_feats)  # (N, 256, H/4, W/4)
        if strength is not None:
            s = strength.reshape(1, 1, 1, 1).to(feats.dtype)  # (1,) -> broadcast over (N, C, H, W)
            feats = content_feats + s * (feats - content_feats)  # s * swap(f) + (1 - s) * f
        out = self.decoder(feats)  # (N, 3, H', W')
        return out[:, :, :h, :w]

    def export_spec(self) -> ExportSpec:
        """``image`` + ``style`` (independent dynamic sizes) + ``strength`` [1] -> ``stylized``.

        The swap's correlation is N x P x L floats, P = (Hs/4 - 2)(Ws/4 - 2) style patches and
        L = (H/4 - 2)(W/4 - 2) content windows, so validation sizes stay small. The TensorRT
        profile bounds it: at ``opt`` (512 px content, 256 px style) 3,844 x 15,876 (244 MB),
        at ``max`` (1 x 1024 px, 512 px style) 15,876 x 64,516 (1.0e9 floats, 4.1 GB; a batch
        of 3 would pass 2^31 elements). The runtime resizes style images to a 256 px short side.
        """
        style = TensorSpec("style", (1, 3, "style_height", "style_width"), doc="style image, RGB in [0, 1]")
        strength = TensorSpec(STRENGTH_INPUT, (1,), doc="swapped features' share in [0, 1] (1: full swap)")
        return ExportSpec(
            family=self.family,
            inputs=(image_tensor("image", "content image, RGB in [0, 1]"), style, strength),
            pad_multiple=self.STRIDE, min_size=self.MIN_SIZE,
            validation_sizes=((1, 97, 131), (2, 61, 45), (1, 64, 64)),
            profile={"min": (1, 16, 16), "opt": (1, 512, 512), "max": (1, 1024, 1024)},
            axis_profiles={"style_height": (16, 256, 512), "style_width": (16, 256, 512)},
        )  # fmt: skip

    def example_inputs(
        self, batch: int, height: int, width: int, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        """Random image, a random style of another (odd) size and a random strength, ordered like
        the graph inputs."""
        sh, sw = self.MIN_SIZE + height % 53, self.MIN_SIZE + 1 + width % 59
        return {
            "image": torch.rand(batch, 3, height, width, generator=generator),
            "style": torch.rand(1, 3, sh, sw, generator=generator),
            STRENGTH_INPUT: torch.rand(1, generator=generator),
        }


def styleswap_optimize(
    content: torch.Tensor, style: torch.Tensor, encoder: StyleSwapNet, *, steps: int = 100,
    tv_weight: float = 1e-3, init: torch.Tensor | None = None, on_iteration: Callable[[], None] | None = None,
) -> torch.Tensor:  # fmt: skip
    """Chen & Schmidt's optimisation variant: L-BFGS on pixels towards the swapped relu3_1.

    Minimises ``relative_mse(relu3_1(x), swap(relu3_1(content), relu3_1(style))) + tv_weight * TV(x)``
    starting from the content image (or ``init``), e.g. to refine an inverse-network output.

    Args:
        content: (1, 3, H, W) in [0, 1], H and W multiples of 4 and >= 16.
        style: (1, 3, Hs, Ws) in [0, 1], Hs and Ws >= 16.
        encoder: Any :class:`StyleSwapNet` (only its VGG encoder and patch size are used).
        steps: L-BFGS iterations.
        tv_weight: Weight of the total-variation prior.
        init: Starting image (1, 3, H, W); default the content image.
        on_iteration: Called after each L-BFGS iteration (e.g. a progress bar's update).

    Returns:
        (1, 3, H, W) image in [0, 1].

    Raises:
        InputError: Bad shapes or sizes, or steps < 1.
    """
    from nst.train.lbfgs import CachedObjective, lbfgs_iterations
    from nst.train.losses import relative_mse, tv_loss

    for name, t in (("content", content), ("style", style)):
        if t.ndim != 4 or t.shape[0] != 1 or t.shape[1] != 3:
            raise InputError(f"{name} must have shape (1, 3, H, W), got {tuple(t.shape)}")
        if min(t.shape[2:]) < StyleSwapNet.MIN_SIZE:
            low = StyleSwapNet.MIN_SIZE
            raise InputError(f"{name} is {t.shape[3]}x{t.shape[2]}; both sides must be >= {low}")
    if content.shape[2] % 4 or content.shape[3] % 4:
        raise InputError(f"content height and width must be multiples of 4, got {tuple(content.shape[2:])}")
    if steps < 1:
        raise InputError(f"steps must be >= 1, got {steps}")
    with torch.no_grad():
        target = encoder.swap(encoder.encode(content), encoder.encode(style))  # (1, 256, H/4, W/4)
    x = (content if init is None else init).detach().clone().clamp(0, 1).requires_grad_(True)
    objective = CachedObjective(
        x, lambda: {"total": relative_mse(encoder.encode(x), target) + tv_weight * tv_loss(x)}
    )
    for _losses in lbfgs_iterations(objective, steps):
        if on_iteration is not None:
            on_iteration()
    return x.detach().clamp(0, 1)
