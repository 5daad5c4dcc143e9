"""Runner: the interface of every inference backend, and the one place that checks inputs.

Subclasses implement :meth:`Runner._infer` (and optionally :meth:`close`,
:meth:`device_loop` and :attr:`label`); names, dtypes, ranks, fixed dimensions, minimum
sizes and batch agreement are checked here, so every backend raises the same
:class:`~nst.errors.InputError` for the same mistake (Polygraphy's habit). Runners are made
by :func:`nst.runtime.registry.open_runner`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import numpy as np

from nst.contract.metadata import ModelMetadata
from nst.contract.spec import TensorSpec
from nst.errors import InputError, did_you_mean
from nst.runtime.style_inputs import check_style_values

Feed = dict[str, np.ndarray]


class Runner(ABC):
    """Runs one model. Use as a context manager or call :meth:`close`.

    Attributes:
        metadata: The model's nst metadata.
        spec: Its I/O contract (``metadata.spec``).
        path: The model file, when it came from one.
    """

    path: Path | None = None

    def __init__(self, metadata: ModelMetadata) -> None:
        self.metadata = metadata
        self.spec = metadata.spec

    @property
    def label(self) -> str:
        """What runs the model, for summary lines (ONNX Runtime: its providers)."""
        return type(self).__name__

    @property
    def precision(self) -> str:
        """``fp32``, ``fp16`` or ``int8``: the model file's precision (``nst.precision`` metadata)."""
        return self.metadata.extra.get("nst.precision", "fp32")

    def device_loop(self, feed: Feed) -> Callable[[], None]:
        """For benchmarks: stage ``feed`` on the device once; the closure re-runs the model on it.

        Each call launches the network and waits for it; outputs stay on the device, so host
        transfers are not timed. Backends without device-resident buffers raise.

        Raises:
            InputError: This runner has no device-resident loop (or was made without one).
        """
        raise InputError(f"{type(self).__name__} has no device-resident loop (GPU backends only)")

    def __enter__(self) -> Runner:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 (optional hook, no-op by default)
        """Release backend resources (idempotent)."""

    def infer(self, feed: Feed) -> Feed:
        """Check ``feed`` against the model's I/O contract, then run it.

        Raises:
            InputError: Missing/unknown names, wrong dtype, rank, channel count, too-small
                images, or inputs that disagree on the batch size.
        """
        self.check_feed(feed)
        return self._infer(feed)

    @abstractmethod
    def _infer(self, feed: Feed) -> Feed:
        """Backend-specific inference on an already-checked feed."""

    def check_feed(self, feed: Feed) -> None:
        expected = {t.name: t for t in self.spec.inputs}
        for name in feed:
            if name not in expected:
                extra = did_you_mean(name, expected)
                raise InputError(f"unknown input {name!r} (model inputs: {list(expected)}){extra}")
        missing = [n for n in expected if n not in feed]
        if missing:
            raise InputError(f"missing model input(s) {missing}")
        axes: dict[str, int] = {}
        for name, tensor in expected.items():
            _check_tensor(tensor, feed[name], axes)
        if "height" in axes and "width" in axes:
            self.spec.check_image_size(axes["height"], axes["width"])
        check_style_values(feed)  # convex style weights / masks (multi-style models)


def _check_tensor(spec: TensorSpec, array: np.ndarray, axes: dict[str, int]) -> None:
    if not isinstance(array, np.ndarray):
        raise InputError(f"input {spec.name!r} must be a numpy array, got {type(array).__name__}")
    if array.dtype != np.dtype(spec.dtype):
        raise InputError(f"input {spec.name!r} must be {spec.dtype}, got {array.dtype}")
    if array.ndim != len(spec.shape):
        raise InputError(
            f"input {spec.name!r} must have rank {len(spec.shape)} {list(spec.shape)}, "
            f"got shape {array.shape}"
        )
    for dim, size in zip(spec.shape, array.shape, strict=True):
        if isinstance(dim, int) and size != dim:
            raise InputError(f"input {spec.name!r} must have shape {list(spec.shape)}, got {array.shape}")
        if isinstance(dim, str):
            if axes.setdefault(dim, size) != size:
                raise InputError(f"inputs disagree on axis {dim!r}: {axes[dim]} vs {size} in {spec.name!r}")
            if size < 1:
                raise InputError(f"input {spec.name!r} has an empty axis {dim!r}")
