"""Training task of the super-resolution family (Johnson et al. 2016, Sec. 4.2).

Each content crop is the high-resolution target; its input is the crop blurred (Gaussian,
sigma 1.0) and bicubically downsampled by the scale. The loss is feature reconstruction on
VGG-16 relu2_2 only (``content_weight``) plus total variation (``tv_weight``), as in the paper.
"""

from __future__ import annotations

from typing import Any

import torch

from nst.config import config_to_dict
from nst.errors import InputError
from nst.train.config import TrainConfig
from nst.train.losses import relative_mse, tv_loss
from nst.train.models import build_model
from nst.train.models.sr import SRNet, degrade
from nst.train.vgg import load_vgg16

SR_LAYER = "relu2_2"


class SRTask:
    """Perceptual-loss training of :class:`SRNet`."""

    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        model = build_model(config.family, config.model)
        if not isinstance(model, SRNet):
            raise InputError(f"family {config.family!r} is not a super-resolution family")
        scale = model.config.scale
        if config.image_size % scale:
            raise InputError(f"image_size {config.image_size} must be a multiple of the scale {scale}")
        if config.styles:
            raise InputError("super-resolution trains on content images only; drop --style")
        self.config = config
        self.model: SRNet = model.to(device)
        self.model_config: dict[str, Any] = config_to_dict(model.config)
        self.vgg = load_vgg16((SR_LAYER,), config.vgg_weights).to(device)

    def losses(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.config
        low = degrade(content, self.model.config.scale)  # (N, 3, S/s, S/s)
        output = self.model(low)  # (N, 3, S, S)
        with torch.no_grad():
            target = self.vgg(content)[SR_LAYER]
        feats = self.vgg(output)[SR_LAYER]
        losses = {
            "feature": cfg.content_weight * relative_mse(feats.float(), target.float()),
            "tv": cfg.tv_weight * tv_loss(output.float()),
        }
        losses["total"] = losses["feature"] + losses["tv"]
        return losses

    def stylize(self, content: torch.Tensor) -> torch.Tensor:
        """Upscaled degraded crops, comparable with the crops above them in sample grids."""
        return self.model(degrade(content, self.model.config.scale))
