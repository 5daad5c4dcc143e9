"""TensorRT's log into ``logging.getLogger("nst.trt")``, keeping errors for one-line messages."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

LOG = logging.getLogger("nst.trt")
#: Lines TensorRT-RTX adds to errors on a machine without a CUDA driver; they are not the cause
#: of a parser or builder error when the build names its compute capabilities.
NO_DRIVER_HINTS = ("catchCudaError", "CUDA driver version is insufficient")


def make_logger(trt: Any) -> Any:
    """A ``trt.ILogger`` forwarding to ``nst.trt``; its ``errors`` list keeps ERROR messages.

    Args:
        trt: The ``tensorrt`` or ``tensorrt_rtx`` module.
    """
    severity = trt.ILogger.Severity
    levels = {severity.INTERNAL_ERROR: logging.CRITICAL, severity.ERROR: logging.ERROR,
              severity.WARNING: logging.WARNING, severity.INFO: logging.INFO,
              severity.VERBOSE: logging.DEBUG}  # fmt: skip

    class NstTrtLogger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, sev: Any, msg: str) -> None:
            level = levels.get(sev, logging.INFO)
            if level >= logging.ERROR:
                self.errors.append(msg)
            if LOG.isEnabledFor(level):
                LOG.log(level, "%s", msg)

    return NstTrtLogger()


def summarize(messages: Iterable[str], limit: int = 3, width: int = 400) -> str:
    """The last ``limit`` messages on one line, driver noise dropped when anything else is left."""
    lines = [line.strip() for m in messages for line in str(m).splitlines() if line.strip()]
    relevant = [line for line in lines if not any(h in line for h in NO_DRIVER_HINTS)] or lines
    text = " / ".join(relevant[-limit:]) or "no error logged"
    return text if len(text) <= width else text[: width - 3] + "..."
