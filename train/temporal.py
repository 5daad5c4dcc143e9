"""Training-time temporal consistency from still photos (Ruder et al. 2016; ReCoNet, Gao et al. 2018).

A feed-forward net flickers on video because a small motion or a little sensor noise changes
its strokes. Without video data, a second "frame" is made from each training crop: a random
small camera move (shift, zoom, roll) as an affine ``grid_sample`` plus Gaussian noise. The
motion is known exactly, so the loss asks the net to commute with it::

    L_temporal = W * sum_i M(i) * ||T(warp(x) + n)(i) - warp(T(x))(i)||^2 / (3 * sum_i M(i))

with ``M`` the pixels whose source lies inside the first frame (the borders the camera move
uncovers are not compared). The identity move without noise gives exactly 0.

Draws depend only on (seed, step), like the loop's batches, so a resumed run draws the same moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

#: the largest move drawn per pair, as fractions of the crop (a slow pan of 128 px moves
#: 1-4 px per frame; these are a bit larger so the net sees sub-pixel and few-pixel moves)
MAX_SHIFT = 0.04
MAX_ZOOM = 0.04
MAX_ROTATE_DEG = 2.0
#: standard deviation of the Gaussian noise added to the second frame (pixels in [0, 1])
NOISE_STD = 0.02
#: a pixel counts as valid when its bilinear footprint lies this fully inside the first frame
_VALID = 0.999


@dataclass(frozen=True)
class WarpedPair:
    """The second frame of a synthetic pair and how it relates to the first."""

    frame: torch.Tensor  #: (N, 3, H, W) warp(x) + noise, clipped to [0, 1]
    theta: torch.Tensor  #: (N, 2, 3) affine map from output to source coordinates
    mask: torch.Tensor  #: (N, 1, H, W) 1 where the warped pixel's source is inside the first frame


def random_affine(
    n: int, generator: torch.Generator, *, max_shift: float = MAX_SHIFT, max_zoom: float = MAX_ZOOM,
    max_rotate_deg: float = MAX_ROTATE_DEG,
) -> torch.Tensor:  # fmt: skip
    """``n`` random small camera moves as (N, 2, 3) ``affine_grid`` matrices (normalised coords).

    Args:
        n: How many.
        generator: CPU generator the draws come from.
        max_shift: Largest shift per axis, as a fraction of the image size.
        max_zoom: Largest relative zoom in or out.
        max_rotate_deg: Largest roll in degrees.
    """

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(n, generator=generator) * 2 - 1) * limit

    angle = uniform(math.radians(max_rotate_deg))
    scale = 1 + uniform(max_zoom)
    shift = torch.stack([uniform(max_shift), uniform(max_shift)], dim=1) * 2  # fraction -> [-1, 1] units
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    rows = [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)]
    return torch.stack(rows, dim=1)  # (N, 2, 3)


def identity_affine(n: int) -> torch.Tensor:
    """(N, 2, 3) identity moves."""
    return torch.eye(2, 3).unsqueeze(0).repeat(n, 1, 1)


def warp(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample (N, C, H, W) ``images`` through the (N, 2, 3) affine ``theta`` (bilinear, zeros outside)."""
    grid = F.affine_grid(theta.to(images), list(images.shape), align_corners=False)  # (N, H, W, 2)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def valid_mask(theta: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) 1 where ``warp`` of an image shaped like ``like`` reads only inside it, else 0."""
    ones = torch.ones(like.shape[0], 1, *like.shape[2:], dtype=like.dtype, device=like.device)
    return (warp(ones, theta) > _VALID).to(like.dtype)


def make_pair(
    content: torch.Tensor, generator: torch.Generator, *, noise_std: float = NOISE_STD,
    theta: torch.Tensor | None = None,
) -> WarpedPair:  # fmt: skip
    """The synthetic second frame of each crop in ``content`` (N, 3, H, W), draws from ``generator``.

    Args:
        content: First frames in [0, 1].
        generator: CPU generator for the move and the noise.
        noise_std: Gaussian noise on the second frame (0 = none).
        theta: Use this (N, 2, 3) move instead of drawing one.
    """
    n = content.shape[0]
    theta = random_affine(n, generator) if theta is None else theta
    theta = theta.to(content)
    frame = warp(content, theta)
    if noise_std > 0:
        noise = torch.randn(content.shape, generator=generator).to(content) * noise_std
        frame = (frame + noise).clamp(0, 1)
    return WarpedPair(frame, theta, valid_mask(theta, content))


def temporal_loss(first_out: torch.Tensor, second_out: torch.Tensor, pair: WarpedPair) -> torch.Tensor:
    """Masked mean squared difference between T(second frame) and warp(T(first frame)).

    Args:
        first_out: (N, 3, H, W) the net's output for the first frames.
        second_out: (N, 3, H, W) the net's output for ``pair.frame``.
        pair: The pair the second frames came from.

    Returns:
        A scalar (unweighted); 0 for the identity move without noise.
    """
    target = warp(first_out, pair.theta)  # (N, 3, H, W)
    sq = (second_out - target).pow(2) * pair.mask  # (N, 3, H, W), border pixels zeroed
    return sq.sum() / (pair.mask.sum() * first_out.shape[1]).clamp_min(1.0)
