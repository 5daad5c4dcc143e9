"""Write stylized frames: a video file (PyAV, audio copied) or a folder of PNG frames.

Both writers take frames as (H, W, 3) uint8 RGB with their source timestamp and
write into a staging place; :func:`open_writer` commits it under the final name only when
everything was written, and removes it on any error (KeyboardInterrupt included).

Video: H.264 (``libx264``, CRF 18, ``medium``) in MP4/MOV/MKV/AVI, VP9 in WebM; BT.709
colour tags. yuv420p needs even sizes, so an odd-sized H.264 video is written as yuv444p
(High 4:4:4), which keeps the exact size (VP9 takes odd sizes in yuv420p). Timestamps are
the source's, so variable frame rates survive (AVI stores a constant rate: frames are
numbered). The display matrix (rotation) is copied, and every audio stream is copied
packet by packet, interleaved with the video and cut at the video's end.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from nst.artifacts import staged
from nst.errors import InputImageError, OutputError, OutputExistsError
from nst.io import write_image
from nst.runtime.video.probe import OutputFormat, VideoInfo, reason, require_av

#: x264 presets (speed / size trade-off; quality is set by the CRF).
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
                "veryslow")  # fmt: skip
FRAME_NAME = "frame_{:06d}.png"
_BT709 = 1  # AVCOL_SPC/PRI/TRC_BT709
_TV_RANGE = 1  # AVCOL_RANGE_MPEG


class Writer(Protocol):
    """Where stylized frames go."""

    def write(self, rgb: np.ndarray, pts: int | None) -> None:
        """Add one (H, W, 3) uint8 RGB frame with its source timestamp."""

    def finish(self) -> None:
        """Flush and close; called once, after the last frame."""

    def abort(self) -> None:
        """Close without finishing (idempotent); the staging place is removed by the caller."""


def pixel_format(codec: str, width: int, height: int) -> str:
    """yuv420p, or yuv444p for H.264 at an odd width or height (4:2:0 needs even sizes)."""
    return "yuv444p" if codec == "libx264" and (width % 2 or height % 2) else "yuv420p"


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float in [0, 1] -> contiguous uint8 (clipped, rounded)."""
    return np.ascontiguousarray(np.rint(np.clip(rgb, 0.0, 1.0) * 255), dtype=np.uint8)


class VideoWriter:
    """Encode frames into ``path`` in ``fmt``, copying ``info``'s display matrix and audio.

    Args:
        path: The (staging) file to write.
        info: The source video.
        fmt: Container and codec.
        crf: Quality (None: the format's default).
        preset: x264 preset (H.264 only).
        audio: Copy the source's audio streams.
    """

    def __init__(self, path: Path, info: VideoInfo, fmt: OutputFormat, *, crf: int | None = None,
                 preset: str = "medium", audio: bool = True) -> None:  # fmt: skip
        self._av = require_av()
        self.info, self.fmt, self.path = info, fmt, path
        self.pix_fmt = pixel_format(fmt.codec, info.width, info.height)
        self.time_base = Fraction(1) / info.rate if fmt.cfr else info.time_base
        self.frames = 0
        self._last_pts: int | None = None
        self._end = 0.0  # source time (s) of the end of the last frame written
        self.container = self._av.open(str(path), "w", format=fmt.muxer)
        self.audio: AudioCopy | None = None
        try:
            self.stream = self._video_stream(fmt.crf if crf is None else crf, preset)
            if audio and info.audio:
                self.audio = AudioCopy(info, self.container)
        except BaseException:
            self.abort()
            raise

    def _video_stream(self, crf: int, preset: str) -> Any:
        stream = self.container.add_stream(self.fmt.codec, rate=self.info.rate)
        stream.width, stream.height, stream.pix_fmt = self.info.width, self.info.height, self.pix_fmt
        stream.time_base = stream.codec_context.time_base = self.time_base
        context = stream.codec_context
        context.colorspace = context.color_primaries = context.color_trc = _BT709
        context.color_range = _TV_RANGE
        if self.fmt.codec == "libx264":
            stream.options = {"crf": str(crf), "preset": preset}
        else:  # libvpx-vp9: constant quality, row threads, a realistic speed
            stream.bit_rate = 0
            stream.options = {"crf": str(crf), "row-mt": "1", "deadline": "good", "cpu-used": "4"}
        if self.info.display_matrix is not None:
            stream.set_display_matrix(self.info.display_matrix)
        return stream

    def write(self, rgb: np.ndarray, pts: int | None) -> None:
        frame = self._av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame = frame.reformat(format=self.pix_fmt, dst_colorspace="ITU709", dst_color_range="MPEG")
        frame.pts, frame.time_base = self._next_pts(pts), self.time_base
        source = self._source_seconds(pts)
        self._end = source + 1 / float(self.info.rate)
        self._mux(self.stream.encode(frame))
        self.frames += 1
        if self.audio is not None:
            self.audio.copy_until(source)

    def finish(self) -> None:
        self._mux(self.stream.encode(None))
        if self.audio is not None:
            self.audio.copy_until(self._end)
            self.audio.close()
        try:
            self.container.close()
        except self._av.FFmpegError as exc:
            raise OutputError(f"cannot write {self.path}: {reason(exc)}") from exc

    def abort(self) -> None:
        if self.audio is not None:
            self.audio.close()
        with contextlib.suppress(Exception):
            self.container.close()

    def _next_pts(self, pts: int | None) -> int:
        """The source pts (frame number for constant-rate containers), kept strictly increasing."""
        if self.fmt.cfr or pts is None:
            step = 1 if self.fmt.cfr else max(1, round(1 / (self.info.rate * self.time_base)))
            pts = 0 if self._last_pts is None else self._last_pts + step
        elif self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        return pts

    def _source_seconds(self, pts: int | None) -> float:
        if pts is None:
            return self.frames / float(self.info.rate)
        return float(pts * self.info.time_base)

    def _mux(self, packets: list[Any]) -> None:
        try:
            self.container.mux(packets)
        except self._av.FFmpegError as exc:
            raise OutputError(f"cannot write {self.path}: {reason(exc)}") from exc


class AudioCopy:
    """Copy the audio packets of ``info.path`` into ``output`` (no re-encoding), in step with the video."""

    def __init__(self, info: VideoInfo, output: Any) -> None:
        av = require_av()
        self._errors = av.FFmpegError
        self.source = info.path
        self.input = av.open(str(info.path), metadata_errors="ignore")
        streams = list(self.input.streams.audio)
        self.output = output
        self.streams = {s.index: output.add_stream_from_template(s) for s in streams}
        self._packets = self.input.demux(*streams)
        self._pending: Any = None

    def copy_until(self, seconds: float) -> None:
        """Mux every packet that starts before ``seconds`` of source time."""
        while True:
            packet = self._next() if self._pending is None else self._pending
            self._pending = None
            if packet is None:
                return
            if packet.dts is None:  # the demuxer's empty flush packet
                continue
            if packet.pts is not None and float(packet.pts * packet.time_base) >= seconds:
                self._pending = packet
                return
            packet.stream = self.streams[packet.stream.index]
            self.output.mux(packet)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.input.close()

    def _next(self) -> Any:
        try:
            return next(self._packets, None)
        except self._errors as exc:
            raise InputImageError(f"cannot read the audio of {self.source}: {reason(exc)}") from exc


class FrameFolder:
    """Write frames as ``frame_000001.png``, ... into a hidden folder beside ``target``.

    :meth:`finish` moves them into ``target`` (renaming the whole folder when ``target`` does
    not exist yet); with ``force``, frames of an earlier run left in ``target`` are removed.
    """

    def __init__(self, target: Path, *, force: bool) -> None:
        self.target, self.force = target, force
        self.tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
        try:
            self.tmp.mkdir(parents=True)
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
        self.frames = 0

    def write(self, rgb: np.ndarray, pts: int | None) -> None:
        self.frames += 1
        write_image(self.tmp / FRAME_NAME.format(self.frames), rgb.astype(np.float32) / 255)

    def finish(self) -> None:
        try:
            if not self.target.exists():
                os.replace(self.tmp, self.target)
                return
            if existing_frames(self.target) and not self.force:
                raise OutputExistsError(f"{self.target} already holds frames; use --force to replace them")
            for old in existing_frames(self.target):
                old.unlink()
            for new in sorted(self.tmp.iterdir()):
                os.replace(new, self.target / new.name)
            self.tmp.rmdir()
        except OSError as exc:
            raise OutputError(f"cannot write {self.target}: {exc.strerror or exc}") from exc

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def existing_frames(folder: Path) -> list[Path]:
    """``frame_NNNNNN.png`` files already in ``folder`` (an earlier run's)."""
    return sorted(p for p in folder.glob("frame_*.png") if p.stem[6:].isdigit())


@contextlib.contextmanager
def open_writer(
    target: Path, info: VideoInfo, fmt: OutputFormat | None, *, force: bool, crf: int | None = None,
    preset: str = "medium", audio: bool = True,
) -> Iterator[Writer]:  # fmt: skip
    """A writer for ``target`` (a video when ``fmt`` is given, else a frame folder).

    The caller writes every frame and returns; the writer is then finished and the result
    lands under ``target``. Any exception (KeyboardInterrupt included) aborts it and leaves
    nothing behind.

    Raises:
        OutputError: The target cannot be written.
        OutputExistsError: ``target`` appeared while writing and ``force`` is false.
    """
    if fmt is None:
        folder = FrameFolder(target, force=force)
        try:
            yield folder
            folder.finish()
        finally:
            folder.abort()  # no-op after a finish that moved everything
        return
    with staged(target) as tmp:
        writer = VideoWriter(tmp, info, fmt, crf=crf, preset=preset, audio=audio)
        try:
            yield writer
            writer.finish()
        finally:
            writer.abort()
        if not force and target.exists():
            raise OutputExistsError(f"{target} already exists; use --force to overwrite")
