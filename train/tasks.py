"""What one training step computes, per family; the loop in :mod:`nst.train.loop` is shared.

A task owns the net and the loss network and turns a batch of content crops into named losses
(``total`` is the one optimised).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import nn

from nst.errors import InputError
from nst.train.config import TrainConfig
from nst.train.models import family_entry
from nst.train.tasks_multistyle import CinTask, StyleBankTask
from nst.train.tasks_single import SingleStyleTask
from nst.train.tasks_sr import SRTask
from nst.train.tasks_styleswap import StyleSwapTask
from nst.train.tasks_texture import TextureStylizationTask, TextureTask


class Task(Protocol):
    """The per-family part of training."""

    model: nn.Module
    model_config: dict[str, Any]

    def losses(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named weighted losses for a (N, 3, S, S) batch; ``total`` is optimised."""
        ...

    def stylize(self, content: torch.Tensor) -> torch.Tensor:
        """Outputs to show in sample grids."""
        ...


#: families trained without style images (super-resolution learns from content alone).
STYLE_FREE: frozenset[str] = frozenset({"sr"})

#: family -> task class; a new family registers its task here.
TASKS: dict[str, Callable[[TrainConfig, torch.device], Task]] = {
    "johnson": SingleStyleTask,
    "cin": CinTask,
    "stylebank": StyleBankTask,
    "styleswap": StyleSwapTask,
    "sr": SRTask,
    "texture": TextureTask,
    "texture_style": TextureStylizationTask,
}


def make_task(config: TrainConfig, device: torch.device) -> Task:
    """The task for ``config.family``."""
    family_entry(config.family)  # unknown family -> InputError with a suggestion
    if config.family not in TASKS:
        raise InputError(f"family {config.family!r} has no training task")
    return TASKS[config.family](config, device)
