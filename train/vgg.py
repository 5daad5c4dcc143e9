"""VGG-16 features for the perceptual losses (Johnson et al. 2016; Simonyan & Zisserman 2015).

The layer layout is torchvision's ``vgg16().features`` so the official weights (and any file
in the same layout, such as ``shared/weights/vgg16_imagenet_features.pth``) load unchanged.
torchvision itself is not a dependency: its PyPI wheel does not import beside our torch.

Weights are found, in order, from: an explicit path, the ``NST_VGG_WEIGHTS`` environment
variable, the torch hub cache, or a download of the official torchvision file whose sha256
must start with the hash prefix in its name (torch.hub's ``check_hash`` convention).
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import torch
from torch import nn

from nst.artifacts import sha256_file
from nst.errors import WeightsError

VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
VGG16_SHA256_PREFIX = "397923af"
ENV_VAR = "NST_VGG_WEIGHTS"

# (out_channels or "M" for max-pool), torchvision's configuration "D".
_CFG: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                         512, 512, 512, "M"]  # fmt: skip

# Index of each ReLU in torchvision's ``features`` Sequential.
LAYERS: dict[str, int] = {
    "relu1_1": 1, "relu1_2": 3, "relu2_1": 6, "relu2_2": 8, "relu3_1": 11, "relu3_2": 13,
    "relu3_3": 15, "relu4_1": 18, "relu4_2": 20, "relu4_3": 22, "relu5_1": 25, "relu5_3": 29,
}  # fmt: skip

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _features() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for v in _CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            assert isinstance(v, int)  # internal table, not user input
            layers += [nn.Conv2d(channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = v
    return nn.Sequential(*layers)


class VGG16Features(nn.Module):
    """Frozen VGG-16 returning the activations of named ReLU layers.

    Input: RGB in [0, 1], shape (N, 3, H, W); ImageNet normalisation happens inside.
    Only the layers up to the deepest requested one are kept, so relu4_3 costs no conv5.
    """

    def __init__(self, layers: tuple[str, ...], state_dict: dict[str, torch.Tensor]) -> None:
        super().__init__()
        unknown = [name for name in layers if name not in LAYERS]
        if unknown:
            raise WeightsError(f"unknown VGG layer(s) {unknown}; known: {sorted(LAYERS)}")
        self.layer_names = layers
        self.indices = [LAYERS[name] for name in layers]
        full = nn.Module()
        full.features = _features()
        _load_features(full, state_dict)
        self.features: nn.Sequential = full.features[: max(self.indices) + 1]  # type: ignore[assignment]
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (x - self.mean) / self.std  # type: ignore[operator]
        wanted = dict(zip(self.indices, self.layer_names, strict=True))
        out: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.features):
            # inplace ReLU would overwrite a tensor we keep, so clone kept activations
            x = layer(x)
            if i in wanted:
                out[wanted[i]] = x
                x = x.clone()
        return out

    def train(self, mode: bool = True) -> VGG16Features:
        """The loss network stays in eval mode whatever the caller asks."""
        return super().train(False)


def _load_features(module: nn.Module, state_dict: dict[str, torch.Tensor]) -> None:
    features = {k: v for k, v in state_dict.items() if k.startswith("features.")}
    if not features:
        raise WeightsError("VGG-16 weights file has no 'features.*' tensors (torchvision layout)")
    try:
        module.load_state_dict(features, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise WeightsError(f"VGG-16 weights do not match torchvision's layout: {first}") from exc


def _hub_cache_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(VGG16_URL).name


def _download(dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".partial")
    try:
        urllib.request.urlretrieve(VGG16_URL, tmp)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WeightsError(
            f"cannot download VGG-16 weights from {VGG16_URL} ({exc}); offline? pass "
            f"--vgg-weights PATH or set {ENV_VAR}=PATH to a torchvision-layout VGG-16 file"
        ) from exc
    if not sha256_file(tmp).startswith(VGG16_SHA256_PREFIX):
        tmp.unlink(missing_ok=True)
        raise WeightsError(f"downloaded VGG-16 weights fail the sha256 check ({VGG16_URL})")
    tmp.replace(dest)


def resolve_weights(path: str | Path | None = None, *, download: bool = True) -> Path:
    """Find the VGG-16 weights file.

    Args:
        path: Explicit weights file; wins over everything else.
        download: Allow fetching the official torchvision weights when nothing local exists.

    Returns:
        Path to an existing weights file.

    Raises:
        WeightsError: If no weights can be found (the message names every option).
    """
    if path is None and os.environ.get(ENV_VAR):
        path = os.environ[ENV_VAR]
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise WeightsError(f"VGG-16 weights file not found: {p}")
        return p
    cached = _hub_cache_path()
    if cached.is_file():
        return cached
    if not download:
        raise WeightsError(
            f"no VGG-16 weights: pass --vgg-weights PATH, set {ENV_VAR}=PATH, or allow the "
            f"download of {VGG16_URL}"
        )
    _download(cached)
    return cached


def load_vgg16(
    layers: tuple[str, ...], path: str | Path | None = None, *, download: bool = True
) -> VGG16Features:
    """Load a frozen VGG-16 returning ``layers``; see :func:`resolve_weights` for the search."""
    weights = resolve_weights(path, download=download)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise WeightsError(f"cannot read VGG-16 weights {weights}: {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsError(f"VGG-16 weights {weights} is not a state dict")
    return VGG16Features(layers, {k: v.float() for k, v in state.items()})
