"""What ``nst serve`` is configured with: models by name and every limit, as one dataclass.

:class:`ServeOptions` is checked once, when the app is made; every limit the service
enforces (body size, pixels, queue bound, timeout, batch size and wait) is read from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nst.errors import InputError
from nst.jobs import DEFAULT_STYLE_SIDE

#: Default pixel limit for uploads: 8.4 MP, so a 4K UHD photo (3840x2160) is accepted.
#: Every upload is decoded to float32 RGB (12 bytes a pixel) and runs through the net, so a
#: server's limit is far below the file loader's decompression-bomb default.
SERVE_MAX_PIXELS = 8_388_608
DEFAULT_NAME = "default"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class ServeOptions:
    """Models and limits of one ``nst serve`` app.

    Attributes:
        models: Model name -> model or engine file; the first is the default model of
            requests that name none. Empty: the bundled model, named ``default``.
        providers: ONNX Runtime providers of every ONNX model (``auto``, ``cpu``, ``cuda``).
        threads: ONNX Runtime intra-op threads per model (None: the runtime's default).
        max_batch: Most requests one inference call takes.
        batch_wait_ms: How long the worker waits for more requests of the same kind before
            it runs a batch that is not full.
        queue_size: Requests waiting per model at most; one more is answered 503.
        timeout_s: A request that has no result after this long is answered 504.
        max_body_mb: Largest request body (MiB); larger is answered 413.
        max_pixels: Largest upload (width * height), checked from the image header by the
            loader's decompression-bomb guard before any pixel is decoded.
        style_side: Style-swap models: the style image's short side is resized to this.
        retry_after_s: The ``Retry-After`` header of 503 answers.
        warmup: Run each model once at startup, so the first request is not the slow one.
    """

    models: Mapping[str, Path] = field(default_factory=dict)
    providers: str = "auto"
    threads: int | None = None
    max_batch: int = 4
    batch_wait_ms: float = 5.0
    queue_size: int = 64
    timeout_s: float = 30.0
    max_body_mb: float = 20.0
    max_pixels: int = SERVE_MAX_PIXELS
    style_side: int = DEFAULT_STYLE_SIDE
    retry_after_s: int = 1
    warmup: bool = True

    @property
    def max_body_bytes(self) -> int:
        """``max_body_mb`` in bytes."""
        return int(self.max_body_mb * 1024 * 1024)

    def check(self) -> ServeOptions:
        """Return self if every value is usable.

        Raises:
            InputError: A limit out of range or a bad model name.
        """
        positive = {"max_batch": self.max_batch, "queue_size": self.queue_size, "timeout_s": self.timeout_s,
                    "max_body_mb": self.max_body_mb, "max_pixels": self.max_pixels,
                    "retry_after_s": self.retry_after_s}  # fmt: skip
        for name, value in positive.items():
            if isinstance(value, bool) or not value > 0:
                raise InputError(f"--{name.replace('_', '-')} must be > 0, got {value!r}")
        if not self.batch_wait_ms >= 0:
            raise InputError(f"--batch-wait-ms must be >= 0, got {self.batch_wait_ms!r}")
        if self.threads is not None and self.threads < 1:
            raise InputError(f"--threads must be >= 1, got {self.threads}")
        if self.style_side < 16:
            raise InputError(f"--style-side must be >= 16, got {self.style_side}")
        for name in self.models:
            check_name(name)
        return self


def check_name(name: str) -> str:
    """A model name usable in URLs and metric labels: letters, digits, ``.``, ``_``, ``-``.

    Raises:
        InputError: Any other name.
    """
    if not _NAME.match(name):
        raise InputError(
            f"bad model name {name!r}: use up to 64 letters, digits, '.', '_' or '-' (not first)"
        )
    return name


def model_paths(model: Path | None, named: Sequence[str], default: Path) -> dict[str, Path]:
    """Model names -> files from ``nst serve [MODEL] --model NAME=PATH ...``.

    The positional ``model`` is named after its file stem and comes first; with no model at
    all, ``default`` (the bundled model) is served as ``default``.

    Raises:
        InputError: ``--model`` without ``NAME=PATH``, a bad name, or a name given twice.
    """
    out: dict[str, Path] = {}
    pairs = [(model.stem, model)] if model is not None else []
    for item in named:
        name, sep, text = item.partition("=")
        if not sep or not name or not text:
            raise InputError(f"--model expects NAME=PATH, got {item!r}")
        pairs.append((name, Path(text)))
    for name, file in pairs:
        if check_name(name) in out:
            raise InputError(f"model name {name!r} is given twice; name each model once")
        out[name] = file
    return out or {DEFAULT_NAME: default}
