"""Training hyper-parameters as one typed dataclass, saved inside every checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nst.errors import InputError

STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")  # Johnson et al. 2016, Sec. 3.1
CONTENT_LAYER = "relu2_2"
#: families whose task computes the temporal loss (nst.train.temporal) when temporal_weight > 0
TEMPORAL_FAMILIES = ("johnson",)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; ``model`` holds the family's own config fields.

    Loss weights are for images in [0, 1] and Gram matrices normalised by C*H*W.
    """

    family: str = "johnson"
    content_dir: str = ""
    styles: tuple[str, ...] = ()
    model: dict[str, Any] = field(default_factory=dict)
    steps: int = 2000
    #: content crops per shard; one step's global batch is ``batch_size * batch_shards``
    batch_size: int = 4
    image_size: int = 256
    style_size: int = 512
    lr: float = 1e-3
    content_weight: float = 1.0
    style_weight: float = 2.0
    tv_weight: float = 10.0
    content_layer: str = CONTENT_LAYER
    style_layers: tuple[str, ...] = STYLE_LAYERS
    seed: int = 0
    log_every: int = 10
    sample_every: int = 100
    checkpoint_every: int = 200
    device: str = "auto"
    amp: bool = True
    vgg_weights: str | None = None
    #: multi-style families: start from this checkpoint and train only the styles it lacks;
    #: single-style families (johnson): start from this checkpoint's weights (fine-tuning)
    init_from: str | None = None
    #: shards of the global batch, each a separate loss, gradients averaged; W processes take
    #: batch_shards / W each (see nst.train.distributed). 1 = the whole batch is one loss.
    batch_shards: int = 1
    #: weight of the temporal loss on synthetic warped pairs (nst.train.temporal); 0 = off
    temporal_weight: float = 0.0

    def __post_init__(self) -> None:
        positive = ("steps", "batch_size", "image_size", "style_size", "log_every",
                    "sample_every", "checkpoint_every", "batch_shards")  # fmt: skip
        for name in positive:
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.image_size < 32:
            raise InputError(f"image_size must be >= 32, got {self.image_size}")
        if self.lr <= 0:
            raise InputError(f"lr must be > 0, got {self.lr}")
        for name in ("content_weight", "style_weight", "tv_weight", "temporal_weight"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.temporal_weight > 0 and self.family not in TEMPORAL_FAMILIES:
            raise InputError(
                f"temporal_weight is supported for {', '.join(TEMPORAL_FAMILIES)}, not {self.family!r}"
            )
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise InputError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
