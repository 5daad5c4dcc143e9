"""Model families, one module each, and the registry from family name to (net, config)."""

from __future__ import annotations

from typing import Any

from torch import nn

from nst.config import config_from_dict
from nst.errors import InputError, did_you_mean
from nst.train.models.cin import CinConfig, CinNet
from nst.train.models.johnson import JohnsonConfig, JohnsonNet
from nst.train.models.sr import SRConfig, SRNet
from nst.train.models.stylebank import StyleBankConfig, StyleBankNet
from nst.train.models.styleswap import StyleSwapConfig, StyleSwapNet
from nst.train.models.texture import TextureConfig, TextureNet, TextureStylizationNet

FAMILIES: dict[str, tuple[type[nn.Module], type]] = {
    "johnson": (JohnsonNet, JohnsonConfig),
    "cin": (CinNet, CinConfig),
    "stylebank": (StyleBankNet, StyleBankConfig),
    "styleswap": (StyleSwapNet, StyleSwapConfig),
    "sr": (SRNet, SRConfig),
    "texture": (TextureNet, TextureConfig),
    "texture_style": (TextureStylizationNet, TextureConfig),
}


def family_entry(family: str) -> tuple[type[nn.Module], type]:
    """Return (net class, config class) of ``family`` or raise with a suggestion."""
    if family not in FAMILIES:
        extra = did_you_mean(family, FAMILIES)
        raise InputError(f"unknown model family {family!r} (known: {sorted(FAMILIES)}){extra}")
    return FAMILIES[family]


def build_model(family: str, config: dict[str, Any]) -> nn.Module:
    """Instantiate the net of ``family`` from its config dict (unknown keys are errors)."""
    net_cls, cfg_cls = family_entry(family)
    return net_cls(config_from_dict(cfg_cls, config))
