"""What a video file holds, found by probing its container with PyAV (never by suffix alone).

:func:`probe` opens the file, checks it has a decodable video stream, decodes its first
frame (so a corrupt file or an unsupported codec fails here, before any model is opened)
and returns a :class:`VideoInfo`. :func:`is_video` is the cheap predicate the CLI uses to
route ``nst stylize clip.mp4`` to the video job.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from nst.errors import InputImageError, MissingDependencyError, require

#: Suffixes taken as videos when a file cannot be probed (so the video job names the problem).
VIDEO_SUFFIXES: frozenset[str] = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"})
#: Demuxers that PyAV opens but that hold still images (or text), not videos.
_STILL_FORMATS = frozenset({"image2", "gif", "apng", "tty"})


@dataclass(frozen=True)
class OutputFormat:
    """How a video of one suffix is written.

    Attributes:
        muxer: FFmpeg's name of the container format.
        codec: The video encoder.
        crf: Its default constant-rate factor (quality; lower is better).
        cfr: The container stores a constant frame rate only (timestamps are re-numbered).
    """

    muxer: str
    codec: str
    crf: int
    cfr: bool = False


#: Output suffix -> format. H.264 (CRF 18, yuv420p; yuv444p at odd sizes), VP9 for WebM.
OUTPUT_FORMATS: dict[str, OutputFormat] = {
    ".mp4": OutputFormat("mp4", "libx264", 18),
    ".m4v": OutputFormat("mp4", "libx264", 18),
    ".mov": OutputFormat("mov", "libx264", 18),
    ".mkv": OutputFormat("matroska", "libx264", 18),
    ".webm": OutputFormat("webm", "libvpx-vp9", 31),
    ".avi": OutputFormat("avi", "libx264", 18, cfr=True),
}


@dataclass(frozen=True)
class VideoInfo:
    """The first video stream of a file, and the audio streams beside it.

    Attributes:
        path: The file.
        container: FFmpeg's demuxer name (``mov,mp4,m4a,3gp,3g2,mj2``, ``matroska,webm``, ...).
        codec: The video codec (``h264``, ``vp9``, ...).
        width: Coded width in pixels (before any display rotation).
        height: Coded height in pixels.
        rate: The nominal (average) frame rate, an exact fraction (``24000/1001``).
        time_base: The stream's time base; frame timestamps are multiples of it.
        frames: Frame count from the container header, or None where it does not say.
        duration: Seconds of video from the header, or None where it does not say.
        display_matrix: The 3x3 display matrix (FFmpeg layout, 9 ints) of the first
            frame, or None when the file has none; written back to the output.
        rotation: Its rotation in degrees, counter-clockwise (0 when none).
        audio: Codec names of the audio streams, in order.
    """

    path: Path
    container: str
    codec: str
    width: int
    height: int
    rate: Fraction
    time_base: Fraction
    frames: int | None
    duration: float | None
    display_matrix: tuple[int, ...] | None
    rotation: int
    audio: tuple[str, ...]

    @property
    def expected_frames(self) -> int | None:
        """The frame count from the header, else estimated from duration x rate (progress bars)."""
        if self.frames:
            return self.frames
        return round(self.duration * self.rate) if self.duration else None


def require_av() -> ModuleType:
    """PyAV, or a :class:`~nst.errors.MissingDependencyError` naming ``nst[video]``."""
    return cast(ModuleType, require("av", "video"))


def is_video(path: str | Path) -> bool:
    """Whether ``path`` is a video for ``nst stylize`` (probing the container with PyAV).

    True for a file PyAV opens with a video stream of a moving-picture format (not a still
    image such as PNG/JPEG/GIF). A file that cannot be probed, or has no video stream, counts
    as a video only if its suffix is a video suffix (``.mp4``, ``.mov``, ``.mkv``, ``.webm``,
    ``.avi``, ``.m4v``), so the video job can say what is wrong with it. Without PyAV the
    suffix decides.
    """
    p = Path(path)
    if not p.is_file():
        return False
    by_suffix = p.suffix.lower() in VIDEO_SUFFIXES
    try:
        av = require_av()
    except MissingDependencyError:
        return by_suffix
    try:
        with av.open(str(p), metadata_errors="ignore") as container:
            if _is_still(container.format.name):
                return False
            return bool(container.streams.video) or by_suffix
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        return by_suffix


def probe(path: str | Path) -> VideoInfo:
    """Open ``path``, check its first video stream decodes, and describe it.

    Raises:
        MissingDependencyError: PyAV (``nst[video]``) is not installed.
        InputImageError: Missing, not a video, corrupt, no video stream, or an unsupported codec.
    """
    av = require_av()
    p = Path(path)
    if not p.is_file():
        raise InputImageError(f"cannot read video {p}: {'not a file' if p.exists() else 'no such file'}")
    try:
        with av.open(str(p), metadata_errors="ignore") as container:
            return _describe(av, p, container)
    except av.FFmpegError as exc:
        raise InputImageError(f"cannot read video {p}: {reason(exc)}") from exc


def reason(exc: Exception) -> str:
    """A short why for an FFmpeg error (no errno, no function names)."""
    text = getattr(exc, "strerror", None) or str(exc)
    if "Invalid data" in text:
        return "not a video, or corrupt or truncated"
    return text.rstrip(".").lower() if text else type(exc).__name__


def _describe(av: ModuleType, path: Path, container: Any) -> VideoInfo:
    if _is_still(container.format.name):
        raise InputImageError(f"{path} is a still image or text ({container.format.name}), not a video")
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        raise InputImageError(f"{path} has no video stream (streams: {', '.join(kinds)})")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise InputImageError(f"cannot read video {path}: its video codec is not supported by PyAV's FFmpeg")
    first = next(container.decode(stream), None)
    if first is None:
        raise InputImageError(f"cannot read video {path}: no frame could be decoded")
    matrix = display_matrix(first)
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
        raise InputImageError(f"cannot read video {path}: it has no frame rate")
    return VideoInfo(
        path=path, container=container.format.name, codec=stream.codec_context.name,
        width=first.width, height=first.height, rate=Fraction(rate), time_base=Fraction(stream.time_base),
        frames=stream.frames or None, duration=_duration(stream, container), display_matrix=matrix,
        rotation=int(first.rotation) if matrix else 0,
        audio=tuple(s.codec_context.name if s.codec_context else "unknown" for s in container.streams.audio),
    )  # fmt: skip


def display_matrix(frame: Any) -> tuple[int, ...] | None:
    """The DISPLAYMATRIX side data of a decoded frame as 9 ints, or None."""
    for data in frame.side_data:
        if str(data.type).endswith("DISPLAYMATRIX") and len(bytes(data)) == 36:
            return tuple(struct.unpack("9i", bytes(data)))
    return None


def supported_codecs(muxer: str) -> set[str]:
    """The codecs a container format can hold (asked of FFmpeg; nothing is written)."""
    av = require_av()
    output = av.open(io.BytesIO(), "w", format=muxer)
    try:
        return set(output.supported_codecs)
    finally:
        output.close()


def _duration(stream: Any, container: Any) -> float | None:
    """Seconds of the video stream from the header (Matroska keeps it in a DURATION tag)."""
    if stream.duration:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION")
    if tag:
        try:
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        except ValueError:
            return None
    if len(container.streams) == 1 and container.duration:
        return container.duration / 1_000_000
    return None


def _is_still(format_name: str) -> bool:
    return format_name.endswith("_pipe") or format_name in _STILL_FORMATS
