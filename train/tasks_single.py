"""Johnson et al. 2016's training task: content + Gram style + TV loss on VGG-16, one style.

With ``temporal_weight > 0`` a temporal loss on synthetic warped pairs is added
(:mod:`nst.train.temporal`); with ``init_from`` the net starts from a checkpoint's weights.
"""

from __future__ import annotations

import torch

from nst.config import config_to_dict
from nst.errors import CheckpointError, InputError
from nst.train.checkpoint import load_checkpoint
from nst.train.config import TrainConfig
from nst.train.data import load_style, step_seed
from nst.train.losses import content_loss, gram_matrix, style_loss, tv_loss
from nst.train.models import build_model
from nst.train.temporal import make_pair, temporal_loss
from nst.train.vgg import VGG16Features, load_vgg16


class SingleStyleTask:
    """Johnson et al. 2016: one net per style, content + Gram style + TV loss on VGG-16."""

    def __init__(self, config: TrainConfig, device: torch.device, vgg: VGG16Features | None = None) -> None:
        self.config = config
        layers = tuple(dict.fromkeys((config.content_layer, *config.style_layers)))
        self.vgg = (vgg or load_vgg16(layers, config.vgg_weights)).to(device)
        self.model = build_model(config.family, config.model)
        self.model_config = config_to_dict(self.model.config)
        if config.init_from:
            self._init_from(config.init_from)
        self.model = self.model.to(device)
        self.step = 0
        style = load_style(config.styles[0], config.style_size).to(device)
        with torch.no_grad():
            feats = self.vgg(style)
            self.style_grams = {n: gram_matrix(feats[n]) for n in config.style_layers}  # (1, C, C)

    def _init_from(self, path: str) -> None:
        """Start from the weights of the checkpoint at ``path`` (same family and model config)."""
        ckpt = load_checkpoint(path)
        saved = config_to_dict(build_model(ckpt["family"], ckpt["model_config"]).config)  # defaults filled in
        if ckpt["family"] != self.config.family or saved != self.model_config:
            raise InputError(
                f"--init checkpoint is {ckpt['family']} {ckpt['model_config']}, "
                f"not {self.config.family} {self.model_config}"
            )
        try:
            self.model.load_state_dict(ckpt["state_dict"])
        except RuntimeError as exc:
            raise CheckpointError(
                f"--init checkpoint weights do not fit: {str(exc).splitlines()[0]}"
            ) from exc

    def set_step(self, step: int) -> None:
        """The loop tells the task which (virtual) step comes next; the temporal draws depend on it."""
        self.step = step

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
        if cfg.temporal_weight > 0:
            losses["temporal"] = cfg.temporal_weight * self._temporal(content, output.float())
        losses["total"] = sum(losses.values(), torch.zeros((), device=content.device))
        return losses

    def _temporal(self, content: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """Unweighted temporal loss of a synthetic second frame of each crop (one more forward)."""
        generator = torch.Generator().manual_seed(step_seed(self.config.seed + 7919, self.step))
        pair = make_pair(content, generator)
        return temporal_loss(output, self.generate(pair.frame).float(), pair)

    def stylize(self, content: torch.Tensor) -> torch.Tensor:
        return self.generate(content)
