"""Johnson et al. 2016's training task: content + Gram style + TV loss on VGG-16, one style."""

from __future__ import annotations

import torch

from nst.config import config_to_dict
from nst.train.config import TrainConfig
from nst.train.data import load_style
from nst.train.losses import content_loss, gram_matrix, style_loss, tv_loss
from nst.train.models import build_model
from nst.train.vgg import VGG16Features, load_vgg16


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

    def generate(self, content: torch.Tensor) -> torch.Tensor:
        """The net's output for a content batch (a subclass may add inputs, e.g. noise)."""
        return self.model(content)

    def losses(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.config
        output = self.generate(content)
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
        return self.generate(content)
