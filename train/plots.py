"""Pictures people would rather look at than read: sample grids and loss curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nst.io import write_image


def image_grid(rows: list[torch.Tensor], pad: int = 4) -> np.ndarray:
    """Tile rows of (N, 3, H, W) images in [0, 1] into one (H', W', 3) array, white gaps."""
    n = max(r.shape[0] for r in rows)
    h = max(r.shape[2] for r in rows)
    w = max(r.shape[3] for r in rows)
    grid = np.ones((len(rows) * (h + pad) + pad, n * (w + pad) + pad, 3), np.float32)
    for i, row in enumerate(rows):
        for j, img in enumerate(row.detach().float().cpu().clamp(0, 1)):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[y : y + img.shape[1], x : x + img.shape[2]] = img.permute(1, 2, 0).numpy()
    return grid


def save_grid(path: Path, rows: list[torch.Tensor]) -> Path:
    """Write :func:`image_grid` of ``rows`` to ``path`` (overwrites: run artefacts)."""
    return write_image(path, image_grid(rows), force=True)


def save_loss_curve(path: Path, history: dict[str, list[float]], title: str) -> Path:
    """Plot every loss in ``history`` against ``history['step']`` on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    steps = history["step"]
    for name, values in history.items():
        if name != "step":
            ax.plot(steps, values, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("weighted loss")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
