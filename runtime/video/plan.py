"""Check a video job before any work: its options, the output's format and audio, the target."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nst.artifacts import check_targets
from nst.errors import InputError, OutputExistsError, did_you_mean
from nst.runtime.video.encode import X264_PRESETS, Writer, existing_frames, open_writer
from nst.runtime.video.flow import cv2_module
from nst.runtime.video.probe import OUTPUT_FORMATS, OutputFormat, VideoInfo, supported_codecs

if TYPE_CHECKING:
    from nst.runtime.video.pipeline import VideoOptions

CONSISTENCY = ("none", "flow")
_CRF_MAX = {"libx264": 51, "libvpx-vp9": 63}


@dataclass(frozen=True)
class Plan:
    """A checked video job's output.

    Attributes:
        target: The output video or frame folder.
        fmt: Its format, or None for PNG frames.
        audio: Codecs of the audio streams to copy.
    """

    target: Path
    fmt: OutputFormat | None
    audio: tuple[str, ...]
    info: VideoInfo
    force: bool = False
    crf: int | None = None
    preset: str = "medium"

    @contextlib.contextmanager
    def writer(self) -> Iterator[Writer]:
        """The staged writer (see :func:`~nst.runtime.video.encode.open_writer`)."""
        with open_writer(self.target, self.info, self.fmt, force=self.force, crf=self.crf,
                         preset=self.preset, audio=bool(self.audio)) as writer:  # fmt: skip
            yield writer


def plan_video(options: VideoOptions, info: VideoInfo) -> Plan:
    """Check ``options`` against ``info`` and the file system; nothing is written.

    Raises:
        InputError: A bad option, suffix or audio codec; not exactly one of ``output`` and
            ``frames_out``; the output is the source.
        OutputExistsError: The target exists (or holds frames) and ``force`` is false.
        MissingDependencyError: ``consistency="flow"`` without OpenCV.
    """
    check_options(options)
    if (options.output is None) == (options.frames_out is None):
        raise InputError("give either an output video (-o OUT.mp4) or --frames-out DIR, not both or neither")
    common = {"info": info, "force": options.force, "crf": options.crf, "preset": options.preset}
    if options.frames_out is not None:
        return Plan(_frames_target(options.frames_out, force=options.force), None, (), **common)
    output = Path(options.output)
    fmt = OUTPUT_FORMATS.get(output.suffix.lower())
    if fmt is None:
        wanted = ", ".join(sorted(OUTPUT_FORMATS))
        raise InputError(f"cannot write {output}: unknown video suffix (use {wanted}, or --frames-out)")
    _check_crf(options.crf, fmt)
    (target,) = check_targets([output], force=options.force, sources=[info.path])
    audio = _audio(info, fmt, target) if options.audio else ()
    return Plan(target, fmt, audio, **common)


def check_options(options: VideoOptions) -> None:
    """The model-independent options (``consistency``, ``blend``, ``flow_scale``, ...).

    Raises:
        InputError: Any of them is out of range.
        MissingDependencyError: ``consistency="flow"`` and OpenCV is not installed.
    """
    if options.consistency not in CONSISTENCY:
        hint = did_you_mean(options.consistency, CONSISTENCY)
        raise InputError(f"unknown --consistency {options.consistency!r} (choose none or flow){hint}")
    if not (_is_number(options.blend) and 0 <= options.blend < 1):
        raise InputError(f"--blend must be a number in [0, 1), got {options.blend!r}")
    if not (_is_number(options.flow_scale) and 0 < options.flow_scale <= 1):
        raise InputError(f"flow_scale must be in (0, 1], got {options.flow_scale!r}")
    if not (_is_number(options.batch_size, integer=True) and options.batch_size >= 1):
        raise InputError(f"batch_size must be an integer >= 1, got {options.batch_size!r}")
    if options.preset not in X264_PRESETS:
        hint = did_you_mean(options.preset, X264_PRESETS)
        choices = ", ".join(X264_PRESETS)
        raise InputError(f"unknown x264 preset {options.preset!r} (choose one of {choices}){hint}")
    if options.consistency == "flow":
        cv2_module()


def _is_number(value: object, *, integer: bool = False) -> bool:
    """A finite int (or float unless ``integer``), not a bool."""
    kinds = int if integer else int | float
    return isinstance(value, kinds) and not isinstance(value, bool) and math.isfinite(value)


def _check_crf(crf: int | None, fmt: OutputFormat) -> None:
    top = _CRF_MAX[fmt.codec]
    if crf is not None and not (_is_number(crf, integer=True) and 0 <= crf <= top):
        raise InputError(f"--crf for {fmt.codec} must be an integer in 0..{top}, got {crf!r}")


def _audio(info: VideoInfo, fmt: OutputFormat, target: Path) -> tuple[str, ...]:
    """The source's audio codecs, if ``fmt``'s container can hold them as they are."""
    if not info.audio:
        return ()
    allowed = supported_codecs(fmt.muxer)
    refused = [codec for codec in info.audio if codec not in allowed]
    if refused:
        raise InputError(
            f"{target.suffix} files cannot hold the source's {', '.join(refused)} audio (audio is copied, "
            "not re-encoded); write .mkv or .mp4, or drop the audio with --no-audio"
        )
    return info.audio


def _frames_target(folder: Path, *, force: bool) -> Path:
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise InputError(f"--frames-out {target} is a file, not a folder")
    if target.is_dir() and existing_frames(target) and not force:
        raise OutputExistsError(f"{target} already holds frames (frame_*.png); use --force to replace them")
    return target
