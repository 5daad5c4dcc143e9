"""Training task of the texture-network family (Ulyanov et al. 2016, texture synthesis).

The style image is the texture; the loss is the Gram (style) loss of Gatys et al. on VGG-16
``style_layers`` plus TV. Content crops are not used as inputs: they only fix the batch size and
the crop size of each step, and the noise of step ``k`` depends only on (seed, k), so a resumed
run draws the same noise as an uninterrupted one.
"""

from __future__ import annotations

from typing import Any

import torch

from nst.config import config_to_dict
from nst.contract.noise import noise_shapes
from nst.errors import InputError
from nst.train.config import TrainConfig
from nst.train.data import load_style, step_seed
from nst.train.losses import gram_matrix, style_loss, tv_loss
from nst.train.models import build_model
from nst.train.models.texture import TextureNet, TextureStylizationNet
from nst.train.tasks_single import SingleStyleTask
from nst.train.vgg import load_vgg16


def scale_noise(
    model: TextureNet, batch: int, height: int, width: int, generator: torch.Generator, device: torch.device
) -> list[torch.Tensor]:
    """Uniform [0, 1) noise of every scale of ``model``, finest first, on ``device``."""
    shapes = noise_shapes(model.config.scales, batch, height, width)
    return [torch.rand(s, generator=generator).to(device) for s in shapes]


class TextureTask:
    """Gram-loss training of :class:`TextureNet` on one texture image."""

    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        model = build_model(config.family, config.model)
        if not isinstance(model, TextureNet):
            raise InputError(f"family {config.family!r} is not a texture family")
        if len(config.styles) != 1:
            raise InputError(f"a texture net learns one texture; got {len(config.styles)} style images")
        if config.image_size < model.min_size:
            raise InputError(f"image_size {config.image_size} is below this net's minimum {model.min_size}")
        self.config, self.device = config, device
        self.model: TextureNet = model.to(device)
        self.model_config: dict[str, Any] = config_to_dict(model.config)
        self.vgg = load_vgg16(tuple(config.style_layers), config.vgg_weights).to(device)
        with torch.no_grad():
            feats = self.vgg(load_style(config.styles[0], config.style_size).to(device))
            self.grams = {n: gram_matrix(feats[n]) for n in config.style_layers}  # (1, C, C)
        self._generator = torch.Generator().manual_seed(config.seed)

    def set_step(self, step: int) -> None:
        self._generator.manual_seed(step_seed(self.config.seed, step))

    def losses(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.config
        n, h, w = content.shape[0], content.shape[2], content.shape[3]
        output = self.model(*scale_noise(self.model, n, h, w, self._generator, self.device))  # (N, 3, S, S)
        feats = {k: v.float() for k, v in self.vgg(output).items()}
        losses = {
            "style": cfg.style_weight * style_loss(feats, self.grams),
            "tv": cfg.tv_weight * tv_loss(output.float()),
        }
        losses["total"] = losses["style"] + losses["tv"]
        return losses

    def stylize(self, content: torch.Tensor) -> torch.Tensor:
        """Textures from fixed noise, one per sample slot."""
        n, h, w = content.shape[0], content.shape[2], content.shape[3]
        return self.model(
            *scale_noise(self.model, n, h, w, torch.Generator().manual_seed(self.config.seed), self.device)
        )


class TextureStylizationTask(SingleStyleTask):
    """Ulyanov et al.'s stylization: :class:`TextureStylizationNet` with the Johnson loss.

    The noise of step ``k`` depends only on (seed, k), as in :class:`TextureTask`, so resumed
    runs are exact; sample grids use the seed's own noise.
    """

    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        super().__init__(config, device)
        if not isinstance(self.model, TextureStylizationNet):
            raise InputError(f"family {config.family!r} is not a texture stylization family")
        if config.image_size < self.model.min_size:
            raise InputError(
                f"image_size {config.image_size} is below this net's minimum {self.model.min_size}"
            )
        self.net: TextureStylizationNet = self.model
        self.device = device
        self._generator = torch.Generator().manual_seed(config.seed)

    def set_step(self, step: int) -> None:
        self._generator.manual_seed(step_seed(self.config.seed, step))

    def generate(self, content: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The net on ``content`` with noise from ``generator`` (default: the step's)."""
        n, h, w = content.shape[0], content.shape[2], content.shape[3]
        noise = scale_noise(self.net, n, h, w, generator or self._generator, self.device)
        return self.net(content, *noise)

    def stylize(self, content: torch.Tensor) -> torch.Tensor:
        return self.generate(content, torch.Generator().manual_seed(self.config.seed))
