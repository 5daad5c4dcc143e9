"""The one exception hierarchy of nst.

Every error a user can cause is an :class:`NstError`; the CLI turns it into a one-line
message and exit code 1. Anything else escaping is a bug.
"""

from __future__ import annotations

from collections.abc import Iterable


class NstError(Exception):
    """Base class of every user-facing nst error."""


class InputError(NstError):
    """A user-supplied argument or value is invalid (bad size, bad weights, unknown name)."""


class InputImageError(InputError):
    """An input image cannot be read: missing, corrupt, truncated, not an image, too large."""


class OutputExistsError(NstError):
    """An output file already exists and ``force`` was not given."""


class OutputError(NstError):
    """An output cannot be written (disk full, permission denied, read-only folder)."""


class MissingDependencyError(NstError):
    """An optional dependency (an ``nst[...]`` extra) is not installed."""


class WeightsError(NstError):
    """Pretrained weights (e.g. VGG-16 for the losses) cannot be found or fail their hash check."""


class CheckpointError(NstError):
    """A checkpoint or model file is missing, corrupt or of an unknown family."""


class ModelError(NstError):
    """A model artifact (ONNX, engine) is unusable: wrong I/O contract, missing metadata."""


class ExportError(NstError):
    """Exporting a model to ONNX failed."""


class ValidationError(ExportError):
    """An exported model disagrees with PyTorch beyond tolerance."""

    def __init__(self, message: str, max_abs_diff: float | None = None) -> None:
        super().__init__(message)
        self.max_abs_diff = max_abs_diff


class EngineBuildError(NstError):
    """Building a TensorRT engine failed."""


class EngineCompatError(NstError):
    """A serialized engine does not match this machine (TensorRT version, GPU, profile)."""


class CalibrationError(NstError):
    """FP16/INT8 conversion or calibration failed."""


def require(module: str, extra: str) -> object:
    """Import an optional dependency or raise :class:`MissingDependencyError`.

    Args:
        module: Importable module name, e.g. ``"torch"``.
        extra: The nst extra that installs it, e.g. ``"train"``.

    Returns:
        The imported module.

    Raises:
        MissingDependencyError: If the module is not installed.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module} is not installed; install it with: pip install 'nst[{extra}]'"
        ) from exc


def did_you_mean(word: str, choices: Iterable[str], n: int = 1) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices`` to a mistyped ``word``, else ``""``.

    Appended to an error message, e.g. ``f"unknown family {name!r}{did_you_mean(name, FAMILIES)}"``.
    """
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=n)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
