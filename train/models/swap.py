"""The style-swap layer (Chen & Schmidt 2016, Sec. 3.1), in ops TensorRT parses with dynamic shapes.

Every k x k patch (stride 1, no padding) of the content activations is replaced by the style
patch with the highest normalised cross-correlation (the paper's eq. 2), and overlapping
patches are averaged (eq. 3). The style patches come from the ``style`` graph input, so their
number P is data-dependent. A Conv whose filters are those patches (the obvious formulation)
has P output channels, which TensorRT must know when it builds the network ("Invalid number of
output channels: -1"). Here the patches are the rows of a matrix instead, channels last:

1. im2col by shifted slices: the k*k views ``feats[:, dy:dy+H', dx:dx+W', :]`` stacked, with
   constant (negative) slice ends, so the slices need no shape arithmetic; style patches become
   a (P, k*k*C) matrix, content windows an (N, H'*W', k*k*C) one;
2. correlation as one MatMul, (N, H'*W', k*k*C) @ (k*k*C, P) -> (N, H'*W', P), with unit-norm
   style patches, then ArgMax over P (the last axis);
3. per offset (dy, dx), a Gather of the un-normalised style patches' (P, C) slab at the chosen
   indices -> (N, H', W', C), zero-padded into place (col2im) and weighted by one over the
   overlap count (the same fold of ones), summed over the k*k offsets: the mean of the
   covering patches. One offset's tensor is alive at a time.

Float16 (``nst.calibration.fp16`` keeps only Pow/ReduceSum in FP32): relu3_1 of the
Caffe-converted VGG reaches ~1e4, so a patch's squared norm (~1e9), a correlation and a sum of
9 overlapping values all overflow float16 (max 65,504) if computed directly. Style patches are
scaled by their max |value| before the norm, content activations by one positive factor per
image (neither changes the argmax), and the fold accumulates a weighted mean, never a sum.

Ops: Slice, Unsqueeze/Concat, Reshape, Transpose, Abs, ReduceMax, Pow, ReduceSum, Sqrt, Add,
Div, Mul, Reciprocal, MatMul, ArgMax, Gather, Pad, Expand. No loop over patches and no one-hot
volume: the largest tensor is the correlation, P x H'W' floats per content image.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

_TINY = 1e-6  # > float16's smallest subnormal (6e-8)


def window_stack(feats: torch.Tensor, patch: int) -> torch.Tensor:
    """All ``patch`` x ``patch`` windows (stride 1) of a channels-last feature map, as shifted views.

    Args:
        feats: (N, H, W, C), H and W >= ``patch``.
        patch: Window size.

    Returns:
        (N, H', W', patch*patch, C) with ``out[n, y, x, dy*patch + dx, c] == feats[n, y+dy, x+dx, c]``,
        H' = H - patch + 1, W' = W - patch + 1. The slices have constant (negative) ends, so the
        graph needs no shape arithmetic for them.
    """
    k = patch
    views = [
        feats[:, dy : (dy - k + 1) or None, dx : (dx - k + 1) or None]  # (N, H', W', C)
        for dy in range(k)
        for dx in range(k)
    ]
    return torch.stack(views, dim=3)


def fold_windows(
    window: Callable[[int], torch.Tensor], patch: int, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Inverse of :func:`window_stack`: sum every window back into place (col2im), channels last.

    Args:
        window: ``window(dy * patch + dx)`` -> (N, H', W', C), the windows at that offset. Called
            once per offset, just before it is added, so only one offset's tensor is alive at a
            time (also in the exported graph, whose nodes keep this order).
        patch: Window size.
        weight: Optional (N or 1, H, W, 1) factor applied to each term before it is added (e.g.
            one over the overlap count, so the running sum is a mean that never exceeds the
            largest window value: 9 summed relu3_1 values of the Caffe VGG overflow float16).

    Returns:
        (N, H' + patch - 1, W' + patch - 1, C), each pixel the (weighted) sum of the windows
        covering it.
    """
    k = patch

    def term(i: int) -> torch.Tensor:
        dy, dx = divmod(i, k)
        placed = F.pad(window(i), (0, 0, dx, k - 1 - dx, dy, k - 1 - dy))  # (N, H, W, C)
        return placed if weight is None else placed * weight

    out = term(0)
    for i in range(1, k * k):
        out = out + term(i)
    return out


def style_patches(style_feats: torch.Tensor, patch: int) -> torch.Tensor:
    """The style's windows, one per row.

    Args:
        style_feats: (1, C, Hs, Ws) activations.
        patch: Window size.

    Returns:
        (P, patch*patch, C), P = (Hs - patch + 1) * (Ws - patch + 1) in row-major window order;
        ``out[p, dy*patch + dx]`` is ``style_feats[0, :, y+dy, x+dx]`` for window ``p = y*Ws' + x``.
    """
    c = style_feats.shape[1]
    windows = window_stack(style_feats.permute(0, 2, 3, 1), patch)  # (1, Hs', Ws', k², C)
    return windows.reshape(-1, patch * patch, c)


def match_patches(content_feats: torch.Tensor, patches: torch.Tensor, patch: int) -> torch.Tensor:
    """Index of the best style patch for every content window (normalised cross-correlation).

    Args:
        content_feats: (N, C, H, W) activations, H and W >= ``patch``.
        patches: (P, patch*patch, C) from :func:`style_patches`.
        patch: Window size.

    Returns:
        (N, H', W') int64 indices of style patches; the first one on ties, like ONNX ArgMax.
    """
    n, c, h, w = content_feats.shape
    hp, wp, length = h - patch + 1, w - patch + 1, patch * patch * c
    # a content window's norm (or any positive factor per image) is the same for every style
    # patch, so correlations with unit-norm style patches rank them by cosine similarity; the
    # image's max |value| as that factor keeps every correlation within +-sqrt(k²C), finite in float16
    peak = content_feats.abs().amax(dim=(1, 2, 3), keepdim=True) + _TINY  # (N, 1, 1, 1)
    windows = window_stack((content_feats / peak).permute(0, 2, 3, 1), patch)  # (N, H', W', k², C)
    filters = _unit_rows(patches.reshape(-1, length))  # (P, k²C), rows of norm 1 (or all zero)
    corr = torch.matmul(windows.reshape(n, hp * wp, length), filters.transpose(0, 1))  # (N, L, P)
    return corr.argmax(dim=2).reshape(n, hp, wp)  # (N, L) -> (N, H', W')


def _unit_rows(rows: torch.Tensor) -> torch.Tensor:
    """Each row divided by its L2 norm, computed without overflow in float16.

    A 3x3x256 patch of the Caffe VGG's relu3_1 has a squared norm of ~1e9: an FP16 copy of the
    graph would divide every patch by inf and always pick patch 0. Scaling each row by its max
    |value| first bounds the sum of squares by the row length. ``_TINY`` is representable in
    float16 (unlike 1e-8), so all-zero rows stay zero, not NaN.
    """
    scaled = rows / (rows.abs().amax(dim=1, keepdim=True) + _TINY)  # (P, k²C) in [-1, 1]
    return scaled / (scaled.pow(2).sum(dim=1, keepdim=True).sqrt() + _TINY)


def style_swap(content_feats: torch.Tensor, style_feats: torch.Tensor, patch: int = 3) -> torch.Tensor:
    """Swap every content patch for its best-matching style patch (Chen & Schmidt eq. 2-3).

    Args:
        content_feats: (N, C, H, W) activations, H and W >= ``patch``.
        style_feats: (1, C, Hs, Ws) activations, Hs and Ws >= ``patch``.
        patch: Odd patch size.

    Returns:
        (N, C, H, W) swapped activations.
    """
    n, c, h, w = content_feats.shape
    hp, wp = h - patch + 1, w - patch + 1
    patches = style_patches(style_feats, patch)  # (P, k², C)
    best = match_patches(content_feats, patches, patch).reshape(-1)  # (N*H'*W',)

    def chosen(i: int) -> torch.Tensor:  # offset i of the chosen, un-normalised patches
        return patches[:, i].index_select(0, best).reshape(n, hp, wp, c)  # (P, C) -> (N, H', W', C)

    ones = torch.ones_like(content_feats[:1, :1, :hp, :wp]).reshape(1, hp, wp, 1)  # (1, H', W', 1)
    weight = 1.0 / fold_windows(lambda _: ones, patch)  # (1, H, W, 1): one over the overlap count
    return fold_windows(chosen, patch, weight).permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
