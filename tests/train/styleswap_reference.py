"""Test oracle for the style-swap layer: explicit loops over every content and style patch.

Slow and obviously correct (Chen & Schmidt 2016 eq. 2-3 read literally): for each content
window, score every style patch by correlation / style-patch norm, take the first best, paste
it, and average the overlaps. It shares no code with :mod:`nst.train.models.swap`.
"""

from __future__ import annotations

import torch

EPS = 1e-8  # same epsilon as the layer, so normalisation rounds alike


def style_swap_reference(
    content_feats: torch.Tensor, style_feats: torch.Tensor, patch: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    """Swap with loops.

    Args:
        content_feats: (N, C, H, W).
        style_feats: (1, C, Hs, Ws).
        patch: Window size.

    Returns:
        ``(swapped (N, C, H, W), choice (N, H', W') int64)``, ``choice`` the row-major index of
        the style patch picked for each content window (the first one on ties).
    """
    n, _, h, w = content_feats.shape
    hs, ws = style_feats.shape[2:]
    style_patches = [
        style_feats[0, :, y : y + patch, x : x + patch]
        for y in range(hs - patch + 1)
        for x in range(ws - patch + 1)
    ]
    out = torch.zeros_like(content_feats)
    count = torch.zeros(n, 1, h, w, dtype=content_feats.dtype)
    choice = torch.zeros(n, h - patch + 1, w - patch + 1, dtype=torch.int64)
    for b in range(n):
        for y in range(h - patch + 1):
            for x in range(w - patch + 1):
                window = content_feats[b, :, y : y + patch, x : x + patch]
                scores = [float((window * s).sum() / (s.norm() + EPS)) for s in style_patches]
                best = max(range(len(scores)), key=scores.__getitem__)  # first on ties
                choice[b, y, x] = best
                out[b, :, y : y + patch, x : x + patch] += style_patches[best]
                count[b, :, y : y + patch, x : x + patch] += 1
    return out / count, choice


def top2_margin(content_feats: torch.Tensor, style_feats: torch.Tensor, patch: int = 3) -> float:
    """Smallest non-zero gap between the best and second-best score of any window (float64).

    A test that compares argmax choices exactly is meaningful only if this is well above the
    float32 rounding of a score (~1e-6 relative). Exact ties (an all-zero window scores 0
    against every patch; identical patches score alike) are exact in float32 too and resolve
    to the first index in both implementations, so they are left out here.
    """
    c64, s64 = content_feats.double(), style_feats.double()
    hs, ws = s64.shape[2:]
    patches = torch.stack([
        s64[0, :, y : y + patch, x : x + patch] for y in range(hs - patch + 1) for x in range(ws - patch + 1)
    ])  # fmt: skip
    normed = patches / (patches.flatten(1).norm(dim=1).reshape(-1, 1, 1, 1) + EPS)  # (P, C, k, k)
    margin = float("inf")
    for b in range(c64.shape[0]):
        for y in range(c64.shape[2] - patch + 1):
            for x in range(c64.shape[3] - patch + 1):
                window = c64[b, :, y : y + patch, x : x + patch]
                scores = (normed * window).sum(dim=(1, 2, 3))
                if scores.numel() > 1:
                    best = scores.max()
                    rest = scores[scores < best]
                    if rest.numel():
                        margin = min(margin, float(best - rest.max()))
    return margin
