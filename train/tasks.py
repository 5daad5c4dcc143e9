"""What one training step computes, per family; the loop in :mod:`nst.train.loop` is shared.

A task owns the net and the loss network and turns a batch of content crops into named losses
(``total`` is the one optimised).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import nn

from nst.config import config_to_dict
from nst.errors import InputError
from nst.train.config import TrainConfig
from nst.train.data import load_style
from nst.train.losses import content_loss, gram_matrix, style_loss, tv_loss
from nst.train.models import build_model, family_entry
from nst.train.tasks_multistyle import CinTask, StyleBankTask
from nst.train.tasks_sr import SRTask
from nst.train.tasks_styleswap import StyleSwapTask
from nst.train.tasks_texture import TextureTask
from nst.train.vgg import VGG16Features, load_vgg16


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


class SingleStyleTask:
    """Johnson et al. 2016: one net per style, content + Gram style + TV loss on VGG-16."""

    def __init__(self, config: TrainConfig, device: torch.device, vgg: VGG16Features | None = None) -> None:
        self.config = config
        layers = tuple(dict.fromkeys((config.content_layer, *config.style_layers)))
        self.vgg = (vgg or load_vgg16(layers, config.vgg_weights)).to(device)
        self.model = build_model(config.family, config.model).to(device)
        self.model_config = config_to_dict(self.model.config)
        style = load_style(config.styles[0], config.style_size).to(device)
        with torch.no_grad():
            feats = self.vgg(style)
            self.style_grams = {n: gram_matrix(feats[n]) for n in config.style_layers}  # (1, C, C)

    def losses(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.config
        output = self.model(content)
        out_feats = self.vgg(output)
        with torch.no_grad():
            target = self.vgg(content)[cfg.content_layer]
        out_f32 = {k: v.float() for k, v in out_feats.items()}  # Gram in fp32 under AMP
        losses = {
            "content": cfg.content_weight * content_loss(out_f32[cfg.content_layer], target.float()),
            "style": cfg.style_weight * style_loss(out_f32, self.style_grams),
            "tv": cfg.tv_weight * tv_loss(output.float()),
        }
        losses["total"] = losses["content"] + losses["style"] + losses["tv"]
        return losses

    def stylize(self, content: torch.Tensor) -> torch.Tensor:
        return self.model(content)


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
}


def make_task(config: TrainConfig, device: torch.device) -> Task:
    """The task for ``config.family``."""
    family_entry(config.family)  # unknown family -> InputError with a suggestion
    if config.family not in TASKS:
        raise InputError(f"family {config.family!r} has no training task")
    return TASKS[config.family](config, device)
