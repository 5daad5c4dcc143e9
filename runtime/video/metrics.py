"""The warping error of Lai et al. 2018 ("Learning Blind Video Temporal Consistency", eq. 9).

    E_warp = 1/(T-1) * sum_{t=2..T} sum_i M_t(i) ||V_t(i) - W(V_{t-1})(i)||^2 / sum_i M_t(i)

``V`` is the stylized video with pixels in [0, 1], ``||.||^2`` the squared norm over the three
channels, ``W`` the warp by the backward optical flow of the *input* video and ``M_t`` its
non-occlusion mask (forward-backward check, Ruder et al. 2016): both come from the input, so
the metric does not trust the stylized frames' own motion. The same computed on the input
itself is the floor (what flow errors and noise leave even for a perfectly stable video).

Flow is OpenCV's DIS (MEDIUM) at full resolution, as in :mod:`nst.runtime.video.flow`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nst.errors import InputError
from nst.runtime.video.decode import read_frames
from nst.runtime.video.flow import FlowEstimator, full_mask, warp
from nst.runtime.video.probe import probe


@dataclass(frozen=True)
class WarpError:
    """E_warp of a stylized video and of its input (the floor), over ``pairs`` frame pairs."""

    e_warp: float
    floor: float
    pairs: int

    def summary(self) -> str:
        return f"E_warp {self.e_warp:.6f} (input floor {self.floor:.6f}) over {self.pairs} frame pairs"


def warping_error(inputs: Iterable[np.ndarray], outputs: Iterable[np.ndarray], *, scale: float = 1.0,
                  preset: str = "medium") -> WarpError:  # fmt: skip
    """E_warp of ``outputs`` and of ``inputs``, both sequences of (H, W, 3) uint8 frames, in order.

    Args:
        inputs: The input video's frames (the flow and masks come from these).
        outputs: The stylized frames, same count and size (uint8, or float in [0, 1]).
        scale, preset: Flow resolution and DIS preset.

    Raises:
        InputError: The two differ in frame count or size, or have fewer than two frames.
    """
    estimator = FlowEstimator(scale=scale, preset=preset)
    errors: list[float] = []
    floors: list[float] = []
    prev_in: np.ndarray | None = None
    prev_out: np.ndarray | None = None
    count = 0
    for frame, out in _pairs(inputs, outputs):
        count += 1
        current_in, current = _unit(frame), _unit(out)
        motion = estimator.push(frame)
        if motion is not None and prev_out is not None and prev_in is not None:
            mask = full_mask(motion, *frame.shape[:2]) > 0.5  # (H, W)
            total = int(mask.sum())
            if total:
                errors.append(
                    float(np.square(current - warp(prev_out, motion)).sum(axis=2)[mask].sum() / total)
                )
                floors.append(
                    float(np.square(current_in - warp(prev_in, motion)).sum(axis=2)[mask].sum() / total)
                )
        prev_in, prev_out = current_in, current
    if count < 2:
        raise InputError(f"E_warp needs at least 2 frames, got {count}")
    pairs = count - 1  # a pair whose mask is empty counts as 0 error, as in Lai et al.'s code
    return WarpError(sum(errors) / pairs, sum(floors) / pairs, pairs)


def video_warping_error(source: Path, stylized: Path, *, scale: float = 1.0) -> WarpError:
    """:func:`warping_error` of two video files (decoded with PyAV, streaming).

    Raises:
        InputImageError: Either file is not a readable video.
        InputError: They differ in frame count or size.
    """
    return warping_error(_rgb(source), _rgb(stylized), scale=scale)


def _rgb(path: Path) -> Iterator[np.ndarray]:
    for frame in read_frames(probe(path)):
        yield frame.rgb


def _pairs(
    inputs: Iterable[np.ndarray], outputs: Iterable[np.ndarray]
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    a, b = iter(inputs), iter(outputs)
    index = 0
    while True:
        x, y = next(a, None), next(b, None)
        if x is None and y is None:
            return
        if x is None or y is None:
            longer = "stylized" if x is None else "input"
            raise InputError(
                f"the {longer} video has more frames than the other (they differ after frame {index})"
            )
        if x.shape[:2] != y.shape[:2]:
            raise InputError(
                f"frame sizes differ: input {x.shape[1]}x{x.shape[0]}, stylized {y.shape[1]}x{y.shape[0]}"
            )
        yield x, y
        index += 1


def _unit(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 or float -> float32 in [0, 1]."""
    return frame.astype(np.float32) / 255 if frame.dtype == np.uint8 else frame.astype(np.float32)
