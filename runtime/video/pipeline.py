"""``nst stylize clip.mp4 -o out.mp4`` as a library call: ``stylize_video(VideoOptions)``.

Three stages with bounded queues between them, so memory does not grow with the length:

    decode thread (PyAV; + DIS flow)  ->  batches through the Runner (this thread;
    + temporal blend)  ->  encode thread (PyAV; audio packets copied)

Everything a user can get wrong (options, the source, the output's format and audio
codecs, the target) is checked before the model is opened; the output is written through
a staging file and lands only when complete (see :mod:`nst.runtime.video.encode`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from nst.runtime.base import Runner
from nst.runtime.registry import open_runner
from nst.runtime.stylize_job import StylizeOptions, choice_inputs
from nst.runtime.stylizer import Stylizer, default_model_path
from nst.runtime.video.decode import Frame, read_frames
from nst.runtime.video.encode import to_uint8
from nst.runtime.video.flow import FlowEstimator, Motion, TemporalBlend
from nst.runtime.video.plan import Plan, plan_video
from nst.runtime.video.probe import VideoInfo, probe
from nst.runtime.video.threads import Consumer, Producer

#: ``on_frame(done, total)``: called after each stylized frame; ``total`` is the header's
#: frame count (or duration x rate), None when the file does not say.
FrameCallback = Callable[[int, int | None], None]


@dataclass(frozen=True)
class VideoOptions:
    """What to stylize, with which model, into what.

    Attributes:
        source: The input video.
        output: The output video (``.mp4``, ``.mov``, ``.mkv``, ``.webm``, ``.avi``), or None
            with ``frames_out``.
        frames_out: Write PNG frames (``frame_000001.png``, ...) into this folder instead.
        model: Model or engine (None: the bundled model).
        providers: ONNX Runtime providers (``auto``, ``cpu``, ``cuda``, ``tensorrt``).
        batch_size: Frames per inference call.
        force: Overwrite an existing output (frames of an earlier run in ``frames_out``).
        style, style_weights, masks, seed, style_image: The model's style choice, as for
            images (see :class:`~nst.runtime.stylize_job.StylizeOptions`).
        consistency: ``flow`` (blend with the flow-warped previous output) or ``none``.
        blend: ``flow``: weight alpha of the warped previous output, in [0, 1).
        flow_scale: ``flow``: resolution of the optical flow relative to the frames, (0, 1].
        keep_detail: ``flow``: restore the net's local contrast after blending (see
            :class:`~nst.runtime.video.flow.TemporalBlend`).
        audio: Copy the source's audio streams (not re-encoded).
        crf: Video quality (None: H.264 18, VP9 31; lower is better).
        preset: x264 preset (speed vs size; H.264 outputs).
    """

    source: Path
    output: Path | None = None
    frames_out: Path | None = None
    model: Path | None = None
    providers: str | Sequence[str] = "auto"
    batch_size: int = 4
    force: bool = False
    style: str | int | None = None
    style_weights: str | Sequence[float] | None = None
    masks: tuple[Path, ...] = ()
    seed: int | None = None
    style_image: Path | None = None
    consistency: str = "flow"
    blend: float = 0.7
    flow_scale: float = 0.5
    keep_detail: bool = True
    audio: bool = True
    crf: int | None = None
    preset: str = "medium"


@dataclass(frozen=True)
class VideoResult:
    """What :func:`stylize_video` wrote."""

    target: Path
    frames: int
    width: int
    height: int
    rate: Fraction
    audio: tuple[str, ...]
    consistency: str
    model: str
    backend: str
    seconds: float
    rotation: int = 0

    @property
    def fps(self) -> float:
        """Frames stylized per second of wall time."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        audio = f", audio {'+'.join(self.audio)} copied" if self.audio else ""
        rotated = f", rotation {self.rotation}°" if self.rotation else ""
        return (
            f"stylized {self.frames} frames ({self.width}x{self.height} @ {float(self.rate):.3f} fps"
            f"{rotated}{audio}; consistency {self.consistency}) with {self.model} [{self.backend}] "
            f"in {self.seconds:.1f}s ({self.fps:.1f} frames/s) -> {self.target}"
        )


def stylize_video(
    options: VideoOptions, on_frame: FrameCallback | None = None, *, runner: Runner | None = None
) -> VideoResult:
    """Stylize every frame of ``options.source`` and write a video (or PNG frames).

    Args:
        options: See :class:`VideoOptions`.
        on_frame: Progress callback ``on_frame(done, total)`` (the library prints nothing).
        runner: An open Runner to use instead of opening ``options.model`` (not closed here).

    Raises:
        MissingDependencyError: PyAV, or OpenCV for ``consistency="flow"`` (``nst[video]``).
        InputImageError: The source is missing, corrupt, truncated, has no video stream or
            an unsupported codec.
        InputError: Bad options, an output suffix or audio codec the container cannot take,
            a style option the model cannot take, frames below the model's minimum size.
        OutputExistsError: The target exists and ``force`` is false (checked before any work).
        OutputError: The output cannot be written.
    """
    info = probe(options.source)
    plan = plan_video(options, info)
    start = time.perf_counter()
    own = runner is None
    if runner is None:
        active = open_runner(options.model or default_model_path(), providers=options.providers)
    else:
        active = runner
    try:
        active.spec.check_image_size(info.height, info.width)
        stylizer = Stylizer(active, batch_size=options.batch_size, seed=options.seed,
                            **choice_inputs(active, _as_stylize_options(options)))  # fmt: skip
        frames = run_pipeline(info, plan, stylizer, options, on_frame)
        name, label = Path(active.path or "model").name, active.label
    finally:
        if own:
            active.close()
    return VideoResult(
        plan.target, frames, info.width, info.height, info.rate, plan.audio, options.consistency,
        name, label, time.perf_counter() - start, info.rotation,
    )  # fmt: skip


def run_pipeline(info: VideoInfo, plan: Plan, stylizer: Stylizer, options: VideoOptions,
                 on_frame: FrameCallback | None = None) -> int:  # fmt: skip
    """Decode -> stylize (+ blend) -> write; returns the number of frames written."""
    flow = options.consistency == "flow"
    blend = TemporalBlend(options.blend, keep_detail=options.keep_detail) if flow else None
    depth = max(2, 2 * options.batch_size)
    total, done = info.expected_frames, 0

    def source() -> Iterator[tuple[Frame, Motion | None]]:
        estimator = FlowEstimator(scale=options.flow_scale) if flow else None
        for frame in read_frames(info):
            yield frame, None if estimator is None else estimator.push(frame.rgb)

    with (
        plan.writer() as writer,
        Producer(source, maxsize=depth, name="nst-video-decode") as frames,
        Consumer(lambda item: writer.write(*item), maxsize=depth, name="nst-video-encode") as sink,
    ):
        for batch in _batches(frames, options.batch_size):
            stylized = stylizer.stylize_batch(_to_batch([f.rgb for f, _ in batch]))
            for (frame, motion), out in zip(batch, stylized, strict=True):
                rgb = np.ascontiguousarray(out.transpose(1, 2, 0))  # (3, H, W) -> (H, W, 3)
                np.clip(rgb, 0.0, 1.0, out=rgb)
                sink.put((to_uint8(blend(rgb, motion) if blend else rgb), frame.pts))
                done += 1
                if on_frame is not None:
                    on_frame(done, total)
        sink.finish()
    return done


def _to_batch(frames: list[np.ndarray]) -> np.ndarray:
    """(H, W, 3) uint8 frames -> (N, 3, H, W) float32 in [0, 1], in one pass."""
    images = np.stack(frames).transpose(0, 3, 1, 2)  # (N, H, W, 3) -> (N, 3, H, W) view
    out = np.empty(images.shape, np.float32)
    np.multiply(images, np.float32(1 / 255), out=out, casting="unsafe")
    return out


def _batches(items: Iterator[tuple[Frame, Motion | None]] | Producer[tuple[Frame, Motion | None]],
             size: int) -> Iterator[list[tuple[Frame, Motion | None]]]:  # fmt: skip
    batch: list[tuple[Frame, Motion | None]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _as_stylize_options(options: VideoOptions) -> StylizeOptions:
    """The image job's options for the same style choice (its ``choice_inputs`` reads them)."""
    return StylizeOptions(
        (options.source,), options.output or options.frames_out or Path("."), style=options.style,
        style_weights=options.style_weights, masks=options.masks, seed=options.seed,
        style_image=options.style_image,
    )  # fmt: skip
