"""Gatys et al. 2016 style transfer by optimisation: L-BFGS on the pixels of one image.

This is the yardstick of the feed-forward nets (Johnson et al. 2016, Sec. 4.1; Ulyanov et
al. 2016, Sec. 4): it minimises *the same* objective a net is trained on — content loss at
``content_layer`` + Gram style loss at ``style_layers`` + total variation, computed by
:mod:`nst.train.losses` on :mod:`nst.train.vgg` features — directly over the output pixels.

    >>> from nst.train.gatys import GatysConfig, gatys_stylize
    >>> result = gatys_stylize(content_rgb, style_rgb, GatysConfig(iterations=100))
    >>> result.image.shape, result.history[-1]["total"]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch

from nst.errors import InputError
from nst.train.config import TrainConfig
from nst.train.data import resize_short_side, to_tensor
from nst.train.lbfgs import CachedObjective, lbfgs_iterations
from nst.train.losses import content_loss, gram_matrix, style_loss, tv_loss
from nst.train.vgg import LAYERS, VGG16Features, load_vgg16

_TRAIN = TrainConfig()  # the training defaults: Gatys optimises the very same objective
INITS = ("content", "noise")
MIN_SIDE = 16  # relu4_3 sits after three 2x poolings; below 16 px its maps are ~1 px


@dataclass(frozen=True)
class GatysConfig:
    """Objective and optimiser settings of one Gatys run.

    Loss weights, layers and ``style_size`` default to :class:`TrainConfig`'s, so a Gatys
    image and a trained net are scored by one objective; :meth:`from_train_config` copies a
    particular model's values.

    Attributes:
        iterations: L-BFGS iterations (each one line search of usually 1-2 evaluations).
        style_size: Short side the style image is resized to before its Grams are taken
            (as in training); None keeps the style image's size.
        init: ``content`` starts from the photo (fast convergence, the strongest baseline
            at low iteration counts); ``noise`` from uniform noise, as Gatys et al. did.
        history_size: L-BFGS memory (torch's default).
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.
        vgg_weights: VGG-16 weights file (see :func:`nst.train.vgg.resolve_weights`).
    """

    iterations: int = 300
    content_weight: float = _TRAIN.content_weight
    style_weight: float = _TRAIN.style_weight
    tv_weight: float = _TRAIN.tv_weight
    content_layer: str = _TRAIN.content_layer
    style_layers: tuple[str, ...] = _TRAIN.style_layers
    style_size: int | None = _TRAIN.style_size
    init: str = "content"
    seed: int = 0
    history_size: int = 100
    device: str = "cpu"
    vgg_weights: str | None = None

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise InputError(f"iterations must be >= 1, got {self.iterations}")
        if self.init not in INITS:
            raise InputError(f"init must be one of {', '.join(INITS)}, got {self.init!r}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.style_size is not None and self.style_size < MIN_SIDE:
            raise InputError(f"style_size must be >= {MIN_SIDE}, got {self.style_size}")
        if self.history_size < 1:
            raise InputError(f"history_size must be >= 1, got {self.history_size}")
        unknown = [n for n in (self.content_layer, *self.style_layers) if n not in LAYERS]
        if unknown:
            raise InputError(f"unknown VGG layer(s) {unknown}; known: {sorted(LAYERS)}")

    @classmethod
    def from_train_config(cls, train: TrainConfig, **overrides: Any) -> GatysConfig:
        """The objective ``train`` was trained with (weights, layers, style size) + ``overrides``."""
        shared = {f.name for f in fields(cls)} & {f.name for f in fields(TrainConfig)}
        shared -= {"seed", "device", "vgg_weights"}  # run settings, not the objective
        return replace(cls(), **({n: getattr(train, n) for n in shared} | overrides))

    def objective(self) -> dict[str, Any]:
        """The fields that define the loss, for reports."""
        names = ("content_weight", "style_weight", "tv_weight", "content_layer", "style_layers",
                 "style_size")  # fmt: skip
        return {n: list(v) if isinstance(v := getattr(self, n), tuple) else v for n in names}


class PerceptualLoss:
    """The weighted training objective of :class:`nst.train.tasks.SingleStyleTask` against
    one fixed style; content targets are passed per call so one instance scores many photos.

    Args:
        config: Weights, layers and style size.
        style: (H, W, 3) float32 RGB in [0, 1]; resized to ``config.style_size``.
        vgg: A loaded loss network with the needed layers (loaded from
            ``config.vgg_weights`` when None).
        device: Where the tensors live.
    """

    def __init__(
        self, config: GatysConfig, style: np.ndarray, vgg: VGG16Features | None = None,
        device: torch.device | None = None,
    ) -> None:  # fmt: skip
        self.config = config
        self.device = device or torch.device("cpu")
        layers = tuple(dict.fromkeys((config.content_layer, *config.style_layers)))
        self.vgg = (vgg or load_vgg16(layers, config.vgg_weights)).to(self.device)
        style = check_rgb(style, "style")
        if config.style_size is not None:
            style = resize_short_side(style, config.style_size)
        with torch.no_grad():
            feats = self.vgg(to_tensor(style).unsqueeze(0).to(self.device))  # (1, 3, Hs, Ws) in
            self.style_grams = {n: gram_matrix(feats[n]) for n in config.style_layers}  # (1, C, C)

    def content_target(self, content: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) photos -> their (N, C, H', W') ``content_layer`` activations."""
        with torch.no_grad():
            return self.vgg(content)[self.config.content_layer]

    def __call__(self, image: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Weighted ``content``, ``style``, ``tv`` and their sum ``total`` for (N, 3, H, W) images."""
        cfg = self.config
        feats = self.vgg(image)
        losses = {
            "content": cfg.content_weight * content_loss(feats[cfg.content_layer], target),
            "style": cfg.style_weight * style_loss(feats, self.style_grams),
            "tv": cfg.tv_weight * tv_loss(image),
        }
        losses["total"] = losses["content"] + losses["style"] + losses["tv"]
        return losses


@dataclass(frozen=True)
class GatysSnapshot:
    """The image after ``iteration`` iterations, its losses and the time it took to get there."""

    iteration: int
    image: np.ndarray  # (H, W, 3) float32 in [0, 1]
    losses: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class GatysResult:
    """Outcome of :func:`gatys_stylize`.

    Attributes:
        image: (H, W, 3) float32 RGB in [0, 1] after the last iteration.
        history: Losses at iteration 0 (the initial image), 1, 2, ... ``iterations``.
        seconds: Wall time of the optimisation (VGG loading and style Grams excluded).
        iterations: Iterations run: ``config.iterations`` unless L-BFGS converged earlier.
        snapshots: Requested iteration -> snapshot (an early stop fills the later ones
            with the final image).
        evaluations: Loss evaluations (VGG forward + backward passes) spent.
    """

    image: np.ndarray
    history: list[dict[str, float]]
    seconds: float
    iterations: int
    snapshots: dict[int, GatysSnapshot]
    evaluations: int


def check_rgb(image: np.ndarray, what: str) -> np.ndarray:
    """Check an (H, W, 3) float image in [0, 1] at least ``MIN_SIDE`` px a side; float32 copy."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", type(image).__name__)
        raise InputError(f"{what} must be an (H, W, 3) RGB array, got {shape}")
    if min(image.shape[:2]) < MIN_SIDE:
        raise InputError(f"{what} is {image.shape[1]}x{image.shape[0]}: too small, need >= {MIN_SIDE} px")
    if not np.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise InputError(f"{what} values must be finite and within [0, 1]")
    return np.ascontiguousarray(image, dtype=np.float32)


def gatys_stylize(
    content: np.ndarray, style: np.ndarray, config: GatysConfig, *,
    snapshots: Sequence[int] = (), vgg: VGG16Features | None = None, progress: bool = False,
) -> GatysResult:  # fmt: skip
    """Stylize ``content`` like ``style`` by L-BFGS on its pixels (Gatys et al. 2016).

    Args:
        content: (H, W, 3) float32 RGB in [0, 1]; the output has its size.
        style: (H, W, 3) float32 RGB in [0, 1]; resized to ``config.style_size``.
        config: Objective and optimiser settings.
        snapshots: Iterations (1..``config.iterations``) at which to keep the image too.
        vgg: A loaded loss network to reuse (loaded from ``config.vgg_weights`` when None).
        progress: Show a progress bar with the current loss.

    Returns:
        The final image, the per-iteration loss history, timing and the snapshots.

    Raises:
        InputError: Bad image shapes/values or snapshot iterations outside 1..iterations.
        WeightsError: No usable VGG-16 weights.
    """
    from tqdm import tqdm

    from nst.train.loop import resolve_device

    content = check_rgb(content, "content")
    wanted = sorted(set(snapshots))
    if any(not 1 <= s <= config.iterations for s in wanted):
        raise InputError(f"snapshot iterations {wanted} must lie in 1..{config.iterations}")
    device = resolve_device(config.device)
    loss = PerceptualLoss(config, style, vgg, device)
    start = time.perf_counter()
    photo = to_tensor(content).unsqueeze(0).to(device)  # (1, 3, H, W)
    x = _initial_image(photo, config).requires_grad_(True)
    target = loss.content_target(photo)
    # Clamping inside the objective scores exactly the image that is returned and saved
    # (a pixel pushed past 0 or 1 stops there); strong-Wolfe steps keep f non-increasing.
    objective = CachedObjective(x, lambda: loss(x.clamp(0.0, 1.0), target))
    history = [objective.current()]
    kept: dict[int, GatysSnapshot] = {}
    bar = tqdm(total=config.iterations, disable=not progress, desc="gatys", unit="it")
    for it, losses in enumerate(lbfgs_iterations(objective, config.iterations, config.history_size), 1):
        history.append(losses)
        bar.update(1)
        bar.set_postfix(loss=f"{history[-1]['total']:.4g}")
        if it in wanted:
            kept[it] = GatysSnapshot(it, _to_rgb(x), history[-1], time.perf_counter() - start)
    bar.close()
    seconds = time.perf_counter() - start
    done = len(history) - 1
    final = _to_rgb(x)
    for s in wanted:
        kept.setdefault(s, GatysSnapshot(done, final, history[-1], seconds))
    return GatysResult(final, history, seconds, done, kept, objective.evaluations)


def _initial_image(photo: torch.Tensor, config: GatysConfig) -> torch.Tensor:
    if config.init == "content":
        return photo.clone()
    generator = torch.Generator().manual_seed(config.seed)
    return torch.rand(photo.shape, generator=generator).to(photo.device)  # (1, 3, H, W) white noise


def _to_rgb(x: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) pixels -> (H, W, 3) float32 in [0, 1]."""
    return np.ascontiguousarray(x.detach().clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy(), np.float32)
