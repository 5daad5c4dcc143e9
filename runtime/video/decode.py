"""Decode a video's frames as RGB arrays with their timestamps (PyAV, one pass, streaming).

Frames come out in presentation order as they are decoded; nothing is buffered beyond the
decoder's own frame threads. Display rotation is not applied: the frames keep their coded
orientation and the writer copies the display matrix, so players rotate the output as they
did the input.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from nst.errors import InputImageError
from nst.runtime.video.probe import VideoInfo, reason, require_av


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded frame.

    Attributes:
        index: 0-based position in presentation order.
        pts: Presentation timestamp in the stream's time base (None where the file has none).
        rgb: (H, W, 3) uint8 RGB, converted with the frame's own colour matrix and range.
    """

    index: int
    pts: int | None
    rgb: np.ndarray


def read_frames(info: VideoInfo) -> Iterator[Frame]:
    """Every frame of the first video stream of ``info.path``.

    Raises:
        InputImageError: Corrupt data, a frame size that changes mid-stream, or fewer
            frames than the header promises (a truncated file).
    """
    av = require_av()
    count, first_pts, last_pts = 0, None, None
    try:
        with av.open(str(info.path), metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                _check_size(info, frame)
                rgb = frame.to_ndarray(format="rgb24", src_color_range=frame.color_range)
                yield Frame(count, frame.pts, rgb)
                count += 1
                if frame.pts is not None:
                    first_pts = frame.pts if first_pts is None else first_pts
                    last_pts = frame.pts
    except av.FFmpegError as exc:
        raise InputImageError(f"cannot read video {info.path}: {reason(exc)} (after {count} frames)") from exc
    span = None if first_pts is None or last_pts is None else float((last_pts - first_pts) * info.time_base)
    check_complete(info, count, span)


def check_complete(info: VideoInfo, count: int, span: float | None) -> None:
    """Refuse a stream that ended early: fewer frames, or less time, than its header says.

    ``span`` is the time from the first to the last decoded frame. A margin of 1 % plus
    two frames allows for edit lists and rounded header durations.

    Raises:
        InputImageError: The file is truncated.
    """
    if count == 0:
        raise InputImageError(f"cannot read video {info.path}: no frame could be decoded")
    frame = 1 / float(info.rate)
    if info.frames and count < info.frames * 0.99 - 2:
        raise InputImageError(
            f"cannot read video {info.path}: truncated (decoded {count} of {info.frames} frames)"
        )
    if info.frames or not info.duration or span is None:
        return
    if span + frame < info.duration * 0.99 - 2 * frame:
        raise InputImageError(
            f"cannot read video {info.path}: truncated (decoded {span + frame:.2f}s of {info.duration:.2f}s)"
        )


def _check_size(info: VideoInfo, frame: Any) -> None:
    if (frame.width, frame.height) != (info.width, info.height):
        raise InputImageError(
            f"video {info.path} changes frame size mid-stream ({info.width}x{info.height} -> "
            f"{frame.width}x{frame.height}); this is not supported"
        )
