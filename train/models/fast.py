"""The ``fast`` layout of the Johnson et al. 2016 transformer: the same encoder / residual /
decoder chain with the full-resolution work taken out (see docs/FAST_NET.md for the design
and the measurements behind it).

On a CPU a feed-forward style net is bound by memory traffic at full resolution more than by
multiply-adds: the paper's 9x9 stem and the last upsample+conv and 9x9 head each read and
write ``c``-channel tensors of the full image size. Here the only full-resolution tensors are
3-channel:

- **stride-2 stem**: a 9x9 conv with stride 2 (3 -> c, at H/2), keeping the paper's 9x9
  receptive field at the input, then one stride-2 3x3 conv (c -> 2c, at H/4);
- **residual blocks at H/4** with 2c channels (the paper: 4c), plain 3x3 convs with instance
  norm (depthwise-separable blocks measured slower on ONNX Runtime CPU at these widths);
- **decoder**: one nearest x2 upsample + 3x3 conv (2c -> c, at H/2), then a 3x3 conv to
  3 * 2 * 2 channels at H/2 rearranged to (3, H, W) by a pixel shuffle (Shi et al. 2016,
  ESPCN; DepthToSpace in ONNX), instead of a full-resolution upsample + 9x9 conv;
- the paper's scaled tanh output.

Every norm is ``nn.InstanceNorm2d`` (an ONNX InstanceNormalization node, which the FP16 and
INT8 conversions keep in FP32), every conv pads by reflection.
"""

from __future__ import annotations

import torch
from torch import nn

from nst.train.models.blocks import ConvLayer, ResidualBlock, UpsampleConv

#: Total stride of the layout: two stride-2 stages before the residual blocks.
FAST_STRIDE = 4


def fast_encoder(c: int) -> nn.Sequential:
    """(N, 3, H, W) -> (N, 2c, H/4, W/4): 9x9 stride-2 stem, then a stride-2 3x3 conv."""
    return nn.Sequential(
        ConvLayer(3, c, 9, stride=2),  # (N, c, H/2, W/2)
        ConvLayer(c, 2 * c, 3, stride=2),  # (N, 2c, H/4, W/4)
    )


def fast_residuals(c: int, num_residual: int) -> nn.Sequential:
    """``num_residual`` residual blocks of width 2c at H/4."""
    return nn.Sequential(*[ResidualBlock(2 * c) for _ in range(num_residual)])


def fast_decoder(c: int) -> nn.Sequential:
    """(N, 2c, H/4, W/4) -> (N, 3, H, W) pre-activation: upsample+conv to H/2, conv to 12
    channels, pixel shuffle x2."""
    return nn.Sequential(
        UpsampleConv(2 * c, c, 3),  # (N, c, H/2, W/2)
        ConvLayer(c, 3 * 4, 3, norm=False, relu=False),  # (N, 12, H/2, W/2)
        nn.PixelShuffle(2),  # (N, 3, H, W)
    )


def fast_chain(c: int, num_residual: int) -> tuple[nn.Sequential, nn.Sequential, nn.Sequential]:
    """Encoder, residual blocks and decoder of the fast layout with stem width ``c``."""
    return fast_encoder(c), fast_residuals(c, num_residual), fast_decoder(c)


def count_macs_per_pixel(net: nn.Module, height: int = 256, width: int = 256) -> float:
    """Multiply-adds of every conv per input pixel, counted by running ``net`` once."""
    total = 0

    def hook(module: nn.Module, _inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(module, nn.Conv2d)
        k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        total += output.numel() * k

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            net(torch.rand(1, 3, height, width))
    finally:
        for h in handles:
            h.remove()
    return total / (height * width)
