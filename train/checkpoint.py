"""Checkpoints: one ``.pt`` file holding family, configs, style names, weights and history.

Everything in it is tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(weights_only=True)`` (no pickled code runs on load).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from nst.artifacts import staged
from nst.errors import CheckpointError
from nst.train.models import build_model

FORMAT = "nst-checkpoint/1"
_REQUIRED = ("format", "family", "model_config", "train_config", "styles", "state_dict", "step")


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically (temp file + rename) so a crash never leaves half a file."""
    with staged(path) as tmp:
        torch.save({"format": FORMAT, **payload}, tmp)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and check a checkpoint.

    Raises:
        CheckpointError: Missing file, unreadable file, or not an nst checkpoint.
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p}")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise CheckpointError(f"cannot read checkpoint {p}: {str(exc).splitlines()[0]}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{p} is not an nst checkpoint ({FORMAT})")
    missing = [k for k in _REQUIRED if k not in ckpt]
    if missing:
        raise CheckpointError(f"checkpoint {p} lacks {missing}")
    return ckpt


def model_from_checkpoint(ckpt: dict[str, Any]) -> nn.Module:
    """Rebuild the net of a loaded checkpoint, in eval mode on the CPU."""
    model = build_model(ckpt["family"], ckpt["model_config"])
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint weights do not fit its model config: {exc}") from exc
    return model.eval()
