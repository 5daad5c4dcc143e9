"""Training tasks of the multi-style families: conditional instance norm and StyleBank.

Both train on S style images at once: every step draws one style index per batch element
from a generator seeded by (seed, step), so a resumed run draws exactly what an
uninterrupted run would. Gram targets of all trained styles are computed once.

Incremental styles (``TrainConfig.init_from``): the run starts from a checkpoint of the same
family, grows it by the new styles (``config.styles`` = the checkpoint's styles + new ones)
and trains only what the new styles own: their γ/β rows (CIN; Dumoulin et al. 2017)
or their banks (StyleBank; Chen et al. 2017). Everything else is bit-for-bit
unchanged: frozen tensors get no gradient, and the old γ/β rows get exactly-zero gradients,
which leaves Adam's moments and therefore the rows at exactly their values.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nst.config import config_to_dict
from nst.errors import InputError
from nst.train.checkpoint import load_checkpoint
from nst.train.config import TrainConfig
from nst.train.data import load_style
from nst.train.losses import content_loss, gram_matrix, style_loss, tv_loss
from nst.train.models import build_model
from nst.train.models.cin import CinNet
from nst.train.models.stylebank import StyleBankNet
from nst.train.vgg import VGG16Features, load_vgg16

#: StyleBank's (T + 1)-step alternation (Chen et al. 2017): T stylizing steps,
#: then one auto-encoder step with the identity loss. T = 2 here.
AE_PERIOD = 3
MULTISTYLE_FAMILIES = ("cin", "stylebank")


def add_style_config(checkpoint: str | Path, new_styles: tuple[str, ...], base: TrainConfig) -> TrainConfig:
    """The config of a run that adds ``new_styles`` to a trained multi-style checkpoint.

    Family, model config and the existing styles come from the checkpoint; every other
    hyper-parameter (content folder, steps, loss weights, ...) from ``base``.

    Raises:
        InputError: No new style, or the checkpoint is not a multi-style family.
        CheckpointError: The checkpoint is missing or broken.
    """
    if not new_styles:
        raise InputError("--from CKPT needs at least one --add-style IMAGE")
    ckpt = load_checkpoint(checkpoint)
    if ckpt["family"] not in MULTISTYLE_FAMILIES:
        raise InputError(
            f"--add-style needs a {' or '.join(MULTISTYLE_FAMILIES)} checkpoint, got {ckpt['family']!r}"
        )
    old_styles = tuple(ckpt["train_config"]["styles"])
    model = {k: v for k, v in ckpt["model_config"].items() if k != "num_styles"}
    return replace(base, family=ckpt["family"], styles=(*old_styles, *new_styles), model=model,
                   init_from=str(checkpoint))  # fmt: skip


def _grow_state(model: nn.Module, old: dict[str, torch.Tensor], old_styles: int) -> None:
    """Copy ``old`` weights into ``model``; tables with a style axis keep their first rows."""
    new_state = model.state_dict()
    unknown = [k for k in old if k not in new_state]
    if unknown:
        raise InputError(f"--from checkpoint does not fit the model: unexpected {unknown[:3]}")
    with torch.no_grad():
        for name, tensor in new_state.items():
            if name not in old:
                continue  # a new style's bank: fresh initialisation
            if tensor.shape == old[name].shape:
                tensor.copy_(old[name])
            elif tensor.shape[1:] == old[name].shape[1:] and old[name].shape[0] == old_styles:
                tensor[:old_styles] = old[name]  # (S_old, C) rows of a γ/β table
                tensor[old_styles:] = old[name].mean(0)  # new style starts at the mean style
            else:
                raise InputError(f"--from checkpoint tensor {name} has shape {tuple(old[name].shape)}")


class MultiStyleTask:
    """Shared part of the CIN and StyleBank tasks: model, style targets, style draws, losses."""

    family = ""

    def __init__(self, config: TrainConfig, device: torch.device, vgg: VGG16Features | None = None) -> None:
        self.config, self.device, self.step = config, device, 0
        layers = tuple(dict.fromkeys((config.content_layer, *config.style_layers)))
        self.vgg = (vgg or load_vgg16(layers, config.vgg_weights)).to(device)
        self.num_styles = len(config.styles)
        given = config.model.get("num_styles", self.num_styles)
        if given != self.num_styles:
            raise InputError(f"model num_styles={given} but {self.num_styles} style images were given")
        self.model = build_model(config.family, {**config.model, "num_styles": self.num_styles})
        self.first_new = self._init_from(config.init_from) if config.init_from else 0
        self.model = self.model.to(device)
        self.model_config = config_to_dict(self.model.config)
        self.trained = list(range(self.first_new, self.num_styles))
        with torch.no_grad():
            grams = [self._grams(config.styles[i]) for i in self.trained]
        # layer -> (T, C, C) for the T trained styles, indexed by position in self.trained
        self.style_grams = {n: torch.cat([g[n] for g in grams]) for n in config.style_layers}

    def _grams(self, path: str) -> dict[str, torch.Tensor]:
        feats = self.vgg(load_style(path, self.config.style_size).to(self.device))
        return {n: gram_matrix(feats[n]) for n in self.config.style_layers}  # (1, C, C)

    def _init_from(self, path: str) -> int:
        """Load the checkpoint at ``path`` into the grown model, freeze; returns its style count."""
        ckpt = load_checkpoint(path)
        if ckpt["family"] != self.config.family:
            raise InputError(f"--from checkpoint is a {ckpt['family']} model, not {self.config.family}")
        old_styles = int(ckpt["model_config"]["num_styles"])
        if self.num_styles <= old_styles:
            raise InputError(f"--from checkpoint already has {old_styles} styles; add at least one new style")
        _grow_state(self.model, ckpt["state_dict"], old_styles)
        self.model.requires_grad_(False)
        self._unfreeze_new(old_styles)
        return old_styles

    def _unfreeze_new(self, old_styles: int) -> None:
        raise NotImplementedError  # each family knows what a style owns

    def trained_parameter_count(self) -> int:
        """How many parameters the optimiser can change."""
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def set_step(self, step: int) -> None:
        """The loop tells the task which step comes next (style draws depend on it)."""
        self.step = step

    def draw_styles(self, batch: int) -> torch.Tensor:
        """(batch,) positions into ``self.trained``, a function of (seed, step) only."""
        generator = torch.Generator().manual_seed((self.config.seed + 1) * 2_000_003 + self.step)
        return torch.randint(0, len(self.trained), (batch,), generator=generator)

    def one_hot(self, positions: torch.Tensor) -> torch.Tensor:
        """(N,) positions into ``self.trained`` -> (N, S) one-hot style weights."""
        index = torch.tensor(self.trained)[positions]
        return F.one_hot(index, self.num_styles).float().to(self.device)

    def perceptual(
        self, content: torch.Tensor, output: torch.Tensor, positions: torch.Tensor
    ) -> dict[str, Any]:
        """Johnson et al.'s content + Gram style + TV losses, each image against its own style."""
        cfg = self.config
        out_feats = {k: v.float() for k, v in self.vgg(output).items()}  # Gram in fp32 under AMP
        with torch.no_grad():
            target = self.vgg(content)[cfg.content_layer].float()
        grams = {n: g[positions.to(g.device)] for n, g in self.style_grams.items()}  # (N, C, C)
        return {
            "content": cfg.content_weight * content_loss(out_feats[cfg.content_layer], target),
            "style": cfg.style_weight * style_loss(out_feats, grams),
            "tv": cfg.tv_weight * tv_loss(output.float()),
        }

    def sample_weights(self, batch: int) -> torch.Tensor:
        """(N, S) one-hot weights showing style ``i % S`` on sample ``i``."""
        return F.one_hot(torch.arange(batch) % self.num_styles, self.num_styles).float().to(self.device)


class CinTask(MultiStyleTask):
    """Dumoulin et al. 2017: one CIN net, a style index per image, Johnson's losses."""

    family = "cin"
    model: CinNet

    def _unfreeze_new(self, old_styles: int) -> None:
        # only the new rows of every γ/β table learn: the old rows' gradients are zeroed
        keep = torch.zeros(self.num_styles, 1)
        keep[old_styles:] = 1.0
        for norm in self.model.norms():
            for table in (norm.gamma, norm.beta):
                table.requires_grad_(True)
                table.register_hook(lambda grad, k=keep: grad * k.to(grad.device))  # (S, C) * (S, 1)

    def trained_parameter_count(self) -> int:
        """Incremental runs change only the new rows of the γ/β tables."""
        if not self.first_new:
            return super().trained_parameter_count()
        return sum(
            len(self.trained) * table.shape[1] for n in self.model.norms() for table in (n.gamma, n.beta)
        )

    def losses(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        positions = self.draw_styles(content.shape[0])
        output = self.model(content, self.one_hot(positions))
        losses = self.perceptual(content, output, positions)
        losses["total"] = losses["content"] + losses["style"] + losses["tv"]
        return losses

    def stylize(self, content: torch.Tensor) -> torch.Tensor:
        return self.model(content, self.sample_weights(content.shape[0]))


class StyleBankTask(MultiStyleTask):
    """Chen et al. 2017: T stylizing steps, then one auto-encoder (identity loss) step.

    Incremental runs train only the new banks, so they take stylizing steps only.
    """

    family = "stylebank"
    model: StyleBankNet

    def _unfreeze_new(self, old_styles: int) -> None:
        for bank in self.model.banks[old_styles:]:
            bank.requires_grad_(True)

    def losses(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        zero = content.new_zeros(())
        if self.first_new == 0 and self.step % AE_PERIOD == AE_PERIOD - 1:
            identity = F.mse_loss(self.model.reconstruct(content).float(), content.float())
            return {"content": zero, "style": zero, "tv": zero, "identity": identity, "total": identity}
        positions = self.draw_styles(content.shape[0])
        weight_map = self.one_hot(positions)[:, :, None, None]  # (N, S, 1, 1)
        drawn = sorted({self.trained[int(p)] for p in positions})  # banks of other styles would add 0
        output = self.model.stylize_map(content, weight_map, banks=drawn)
        losses = self.perceptual(content, output, positions)
        losses["identity"] = zero
        losses["total"] = losses["content"] + losses["style"] + losses["tv"]
        return losses

    def stylize(self, content: torch.Tensor) -> torch.Tensor:
        return self.model.stylize_map(content, self.sample_weights(content.shape[0])[:, :, None, None])
