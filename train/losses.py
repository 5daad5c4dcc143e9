"""Perceptual losses of Johnson et al. 2016 (after Gatys et al. 2016).

All images are RGB in [0, 1]; features come from :class:`nst.train.vgg.VGG16Features`.

Content and style losses are *relative*: each squared error is divided by the energy of its
target. The papers' absolute losses scale with the loss network's activation scale (the
Caffe-converted VGG-16 in ``shared/weights`` has activations ~255x torchvision's, so its Gram
loss is ~255^4 larger), which would make every loss weight depend on the weights file. The
relative form has the same minimisers and gradients up to a constant per target, and the
weights mean the same thing for any VGG-16 file.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_EPS = 1e-8


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix normalised by C*H*W, as in Johnson et al. eq. (3).

    Args:
        features: (N, C, H, W) activations.

    Returns:
        (N, C, C) Gram matrices.
    """
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)  # (N, C, H*W)
    return flat @ flat.transpose(1, 2) / (c * h * w)  # (N, C, H*W) @ (N, H*W, C) -> (N, C, C)


def relative_mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mean((output - target)^2) / mean(target^2)``: 0 when equal, 1 for an all-zero output."""
    return F.mse_loss(output, target) / (target.pow(2).mean() + _EPS)


def content_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Feature reconstruction loss of one layer's (N, C, H, W) activations."""
    return relative_mse(output, target)


def style_loss(output: dict[str, torch.Tensor], target_grams: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum over layers of the relative squared distance between Gram matrices.

    Args:
        output: Layer name -> (N, C, H, W) activations of the stylized images.
        target_grams: Layer name -> (1, C, C) or (N, C, C) Gram matrices of the style image(s).
    """
    total = torch.zeros((), device=next(iter(output.values())).device)
    for name, target in target_grams.items():
        gram = gram_matrix(output[name])  # (N, C, C)
        total = total + relative_mse(gram, target.expand_as(gram))
    return total


def tv_loss(images: torch.Tensor) -> torch.Tensor:
    """Total variation (anisotropic, squared) regulariser encouraging spatial smoothness.

    Args:
        images: (N, 3, H, W) in [0, 1].
    """
    dh = images[:, :, 1:, :] - images[:, :, :-1, :]  # (N, 3, H-1, W)
    dw = images[:, :, :, 1:] - images[:, :, :, :-1]  # (N, 3, H, W-1)
    return dh.pow(2).mean() + dw.pow(2).mean()
