"""Typed-dataclass helpers shared by every config (train, model, export, engine).

Configs are plain frozen dataclasses; they travel inside checkpoints and model metadata as
dicts. Loading a dict back rejects unknown keys, so a typo never silently falls back to a
default.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from nst.errors import InputError, did_you_mean

T = TypeVar("T")


def config_from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build dataclass ``cls`` from ``data``, rejecting unknown keys.

    Args:
        cls: A dataclass type.
        data: Field values; missing fields take their defaults.

    Returns:
        The dataclass instance.

    Raises:
        InputError: If ``data`` has a key that is not a field of ``cls``.
    """
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for key in data:
        if key not in names:
            extra = did_you_mean(key, names)
            raise InputError(f"unknown {cls.__name__} key {key!r}{extra}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**kwargs)


def config_to_dict(config: Any) -> dict[str, Any]:
    """Turn a config dataclass into plain JSON-compatible data (tuples become lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return {k: plain(v) for k, v in dataclasses.asdict(config).items()}
