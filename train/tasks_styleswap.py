"""Training task of the style-swap family: only the inverse network learns.

Chen & Schmidt 2016, Sec. 4: the inverse network ``f`` is trained so that the encoder's
relu3_1 activations of its output match its input activations ``H``:
``|Phi(f(H)) - H|^2 + lambda * TV(f(H))``. ``H`` comes from content crops, crops of the style
images, style-swapped content activations and one blend ``f + u * (swap(f) - f)`` of a content
crop's activations with its swap (``u`` uniform in [0, 1], seeded per step), so the network sees
the distribution it inverts at test time, ``strength`` blends included (the paper trains on
content and style activations; the swapped and blended ones are our choice, one swap per step).
"""

from __future__ import annotations

from typing import Any

import torch

from nst.config import config_to_dict
from nst.errors import InputError
from nst.train.config import TrainConfig
from nst.train.data import load_style, step_seed
from nst.train.losses import relative_mse, tv_loss
from nst.train.models import build_model
from nst.train.models.styleswap import StyleSwapNet
from nst.train.vgg import load_vgg16


class StyleSwapTask:
    """Feature-reconstruction training of :class:`StyleSwapNet`'s inverse network."""

    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        self.config = config
        model = build_model(config.family, config.model)
        if not isinstance(model, StyleSwapNet):
            raise InputError(f"family {config.family!r} is not a style-swap family")
        vgg = load_vgg16(("relu3_1",), config.vgg_weights)  # features[:12], same layout
        model.encoder.load_state_dict(vgg.features.state_dict())
        self.model: StyleSwapNet = model.to(device)
        self.model_config: dict[str, Any] = config_to_dict(model.config)
        self.styles = [load_style(p, config.style_size).to(device) for p in config.styles]  # (1, 3, h, w)
        # samples swap against a style no larger than the crops: P patches grow with style area
        self.sample_style = load_style(config.styles[0], config.image_size).to(device)
        self._generator = torch.Generator().manual_seed(config.seed + 1)

    def set_step(self, step: int) -> None:
        """Style crops depend only on (seed, step), so a resumed run draws the same ones."""
        self._generator.manual_seed(step_seed(self.config.seed, step) + 1)

    def _style_crops(self, n: int, size: int) -> torch.Tensor:
        """``n`` random ``size``-square crops of the style images: (n, 3, size, size)."""
        crops = []
        for _ in range(n):
            k = int(torch.randint(len(self.styles), (1,), generator=self._generator))
            style = self.styles[k]
            h, w = style.shape[2:]
            if min(h, w) < size:
                raise InputError(f"style image {self.config.styles[k]} is smaller than image_size {size}")
            top = int(torch.randint(h - size + 1, (1,), generator=self._generator))
            left = int(torch.randint(w - size + 1, (1,), generator=self._generator))
            crops.append(style[0, :, top : top + size, left : left + size])
        return torch.stack(crops)

    def losses(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg, model = self.config, self.model
        n, size = content.shape[0], content.shape[-1]
        with torch.no_grad():
            content_feats = model.encode(content)  # (N, 256, S/4, S/4)
            style_feats = model.encode(self._style_crops(max(1, n // 2), size))  # (N/2, 256, S/4, S/4)
            swapped = model.swap(content_feats[:1], style_feats[:1])  # (1, 256, S/4, S/4)
            u = float(torch.rand((), generator=self._generator))  # a --strength the net must invert
            blended = content_feats[:1] + u * (swapped - content_feats[:1])  # (1, 256, S/4, S/4)
            targets = torch.cat([content_feats, style_feats, swapped, blended])  # (M, 256, S/4, S/4)
        output = model.decoder(targets)  # (M, 3, S, S)
        losses = {
            "feature": cfg.content_weight * relative_mse(model.encode(output).float(), targets.float()),
            "tv": cfg.tv_weight * tv_loss(output.float()),
        }
        losses["total"] = losses["feature"] + losses["tv"]
        return losses

    def stylize(self, content: torch.Tensor) -> torch.Tensor:
        """Content crops swapped with the first style image."""
        return self.model(content, self.sample_style)
