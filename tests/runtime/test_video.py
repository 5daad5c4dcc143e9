"""Video through a model: tiny synthetic clips made with PyAV, the bundled model (real ONNX Runtime).

Clips are 48x36 (and odd sizes), about one second; the whole file runs in well under 40 s.
"""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nst.contract.metadata import ModelMetadata
from nst.contract.spec import ExportSpec
from nst.errors import InputError, InputImageError, OutputExistsError
from nst.runtime.base import Feed, Runner
from nst.runtime.video import VideoOptions, VideoResult, is_video, probe, stylize_video
from nst.runtime.video.flow import temporal_error

av = pytest.importorskip("av")

_AUDIO_FRAME = {"aac": 1024, "libopus": 960}


def pattern(index: int, height: int, width: int) -> np.ndarray:
    """A colour pattern that moves two pixels right per frame."""
    yy, xx = np.mgrid[0:height, 0:width]
    x = xx - 2 * index
    rgb = np.stack([(x * 9) % 256, (yy * 7) % 256, ((x + yy) * 5) % 256], axis=2)
    return rgb.astype(np.uint8)


def make_clip(
    path: Path, *, size: tuple[int, int] = (48, 36), frames: int = 24, rate: Fraction = Fraction(24),
    codec: str = "libx264", pix_fmt: str = "yuv420p", rotation: int | None = None, audio: str | None = None,
    pts: list[int] | None = None, time_base: Fraction | None = None, images: list[np.ndarray] | None = None,
    options: dict[str, str] | None = None,
) -> list[np.ndarray]:  # fmt: skip
    """Write a synthetic clip (optionally rotated, with an audio track, with given timestamps)."""
    width, height = size
    images = images or [pattern(i, height, width) for i in range(frames)]
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if time_base is not None:
            stream.codec_context.time_base = time_base
        if rotation is not None:
            stream.set_display_rotation(rotation)
        sound = _audio_stream(container, audio) if audio else None
        for i, rgb in enumerate(images):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if sound is not None:
            _write_tone(container, sound, audio or "", seconds=len(images) / float(rate))
    return images


def _audio_stream(container: Any, codec: str) -> Any:
    stream = container.add_stream(codec, rate=48000)
    stream.layout = "stereo"
    return stream


def _write_tone(container: Any, stream: Any, codec: str, seconds: float) -> None:
    step, start, total = _AUDIO_FRAME[codec], 0, int(seconds * 48000)
    while start < total:
        tone = 0.2 * np.sin(2 * np.pi * 440 * np.arange(start, start + step) / 48000)
        if stream.format.name == "s16":
            data = np.repeat((tone * 32767).astype(np.int16), 2)[None]  # packed stereo
        else:
            data = np.stack([tone, tone]).astype(np.float32)  # planar stereo
        frame = av.AudioFrame.from_ndarray(data, format=stream.format.name, layout="stereo")
        frame.sample_rate, frame.pts = 48000, start
        container.mux(stream.encode(frame))
        start += step
    container.mux(stream.encode(None))


def decode(path: Path) -> tuple[list[np.ndarray], list[int], Any]:
    """(frames, pts, first frame's rotation) of a video file."""
    with av.open(str(path)) as container:
        frames, stamps, rotation = [], [], None
        for frame in container.decode(video=0):
            rotation = frame.rotation if rotation is None else rotation
            frames.append(frame.to_ndarray(format="rgb24"))
            stamps.append(frame.pts)
    return frames, stamps, rotation


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(audio=0) if p.size]


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def run(source: Path, output: Path | None, **options: Any) -> VideoResult:
    options.setdefault("consistency", "none")
    return stylize_video(VideoOptions(source, output, **options))


class FakeRunner(Runner):
    """A real Runner (inputs checked by the base class) whose model inverts the image.

    ``fail_at``: the inference call (1-based) that raises ``error`` instead.
    """

    def __init__(self, fail_at: int | None = None, error: BaseException | None = None) -> None:
        super().__init__(ModelMetadata("johnson", ("swirl",), ExportSpec(family="johnson"), "0.1.0", {}))
        self.calls, self.fail_at, self.error = 0, fail_at, error

    def _infer(self, feed: Feed) -> Feed:
        self.calls += 1
        if self.calls == self.fail_at and self.error is not None:
            raise self.error
        return {"stylized": 1 - feed["image"]}


# --- what is kept: frame rate, frame count, timestamps, size, rotation, audio ---------------


@pytest.mark.parametrize("rate", [Fraction(24000, 1001), Fraction(30)])
def test_exact_rate_frame_count_and_timestamps(tmp_path: Path, rate: Fraction) -> None:
    source, out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_clip(source, rate=rate, frames=30)
    seen: list[tuple[int, int | None]] = []
    result = stylize_video(VideoOptions(source, out, consistency="none"), lambda d, t: seen.append((d, t)))
    info = probe(out)
    assert info.rate == rate and info.frames == 30 and result.frames == 30
    assert (info.width, info.height) == (48, 36)
    assert decode(out)[1] == decode(source)[1]  # the same presentation timestamps
    assert seen == [(i, 30) for i in range(1, 31)]
    assert "stylized 30 frames (48x36" in result.summary() and str(out) in result.summary()


def test_variable_frame_rate_timestamps_kept(tmp_path: Path) -> None:
    source, out = tmp_path / "vfr.mkv", tmp_path / "out.mkv"
    stamps = [0, 40, 80, 100, 180, 200, 300, 310, 400, 433, 466, 500]
    make_clip(source, frames=len(stamps), pts=stamps, time_base=Fraction(1, 1000), rate=Fraction(25))
    run(source, out)
    assert decode(out)[1] == decode(source)[1] == stamps


def test_output_pixels_are_the_models(tmp_path: Path) -> None:
    source, out = tmp_path / "in.mkv", tmp_path / "out.mkv"
    make_clip(source, frames=6)
    stylize_video(VideoOptions(source, out, consistency="none", crf=0), runner=FakeRunner())
    for got, src in zip(decode(out)[0], decode(source)[0], strict=True):
        assert np.abs(got.astype(int) - (255 - src.astype(int))).mean() < 3  # inverted, up to yuv rounding


@pytest.mark.parametrize(("suffix", "pix_fmt"), [(".mp4", "yuv444p"), (".webm", "yuv420p")])
def test_odd_size_round_trips_exactly(tmp_path: Path, suffix: str, pix_fmt: str) -> None:
    source, out = tmp_path / "odd.mkv", tmp_path / f"out{suffix}"
    make_clip(source, size=(47, 35), frames=8, pix_fmt="yuv444p")
    run(source, out)
    info = probe(out)
    assert (info.width, info.height) == (47, 35)
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == pix_fmt
    assert len(decode(out)[0]) == 8


def test_rotation_metadata_written_back(tmp_path: Path) -> None:
    source, out = tmp_path / "rot.mp4", tmp_path / "out.mov"
    make_clip(source, rotation=90, frames=6)
    result = run(source, out)
    assert decode(out)[2] == 90 and probe(out).display_matrix == probe(source).display_matrix
    assert result.rotation == 90 and "rotation 90" in result.summary()


@pytest.mark.parametrize(("codec", "suffix"), [("aac", ".mp4"), ("libopus", ".mkv"), ("libopus", ".webm")])
def test_audio_copied_not_reencoded(tmp_path: Path, codec: str, suffix: str) -> None:
    source, out = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    make_clip(source, frames=24, audio=codec, codec="libvpx-vp9" if suffix == ".webm" else "libx264")
    result = run(source, out)
    src, got = audio_packets(source), audio_packets(out)
    assert got == src[: len(got)] and len(got) >= len(src) - 2  # byte-identical packets, cut at the video end
    assert probe(out).audio == probe(source).audio and result.audio
    assert "copied" in result.summary()
    assert len(decode(out)[0]) == 24


def test_no_audio_option_drops_audio(tmp_path: Path) -> None:
    source, out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_clip(source, frames=6, audio="aac")
    run(source, out, audio=False)
    assert probe(out).audio == ()


@pytest.mark.parametrize("suffix", [".avi", ".mov"])
def test_other_containers(tmp_path: Path, suffix: str) -> None:
    source, out = tmp_path / "in.mp4", tmp_path / f"out{suffix}"
    make_clip(source, frames=10, rate=Fraction(30000, 1001))
    run(source, out)
    assert len(decode(out)[0]) == 10 and probe(out).rate == Fraction(30000, 1001)


def test_frames_out_writes_pngs(tmp_path: Path) -> None:
    from nst.io import read_image

    source, folder = tmp_path / "in.mp4", tmp_path / "frames"
    make_clip(source, frames=5)
    result = run(source, None, frames_out=folder)
    assert names(folder) == [f"frame_{i:06d}.png" for i in range(1, 6)]
    assert read_image(folder / "frame_000001.png").size == (48, 36) and result.target == folder
    with pytest.raises(OutputExistsError, match="already holds frames"):
        run(source, None, frames_out=folder)
    make_clip(source, frames=3)
    run(source, None, frames_out=folder, force=True)  # stale frames of the longer run go
    assert names(folder) == [f"frame_{i:06d}.png" for i in range(1, 4)]
    assert names(tmp_path) == ["frames", "in.mp4"]


def test_is_video_probes_the_container(tmp_path: Path) -> None:
    from PIL import Image

    clip = tmp_path / "clip.mkv"
    make_clip(clip, frames=3)
    renamed = tmp_path / "clip.dat"
    renamed.write_bytes(clip.read_bytes())
    Image.fromarray(pattern(0, 20, 20)).save(tmp_path / "photo.png")
    (tmp_path / "photo.png").rename(tmp_path / "photo.mp4")  # an image with a video suffix
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all" * 100)
    assert is_video(clip) and is_video(renamed)
    assert not is_video(tmp_path / "photo.mp4")
    assert is_video(tmp_path / "junk.mp4")  # unreadable, but a video suffix: the video job says why
    assert not is_video(tmp_path / "missing.mp4") and not is_video(tmp_path)


# --- errors: one line, nothing left behind -------------------------------------------------


def _truncated(tmp_path: Path, suffix: str) -> Path:
    source = tmp_path / f"full{suffix}"
    make_clip(source, frames=48, options={"movflags": "faststart"} if suffix == ".mp4" else None)
    data = source.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    source.unlink()
    return cut


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_truncated_video(tmp_path: Path, suffix: str) -> None:
    cut = _truncated(tmp_path, suffix)
    with pytest.raises(InputImageError, match=f"cannot read video .*cut{suffix}.*(truncated|corrupt)"):
        run(cut, tmp_path / "out.mp4")
    assert names(tmp_path) == [cut.name]


def test_not_a_video(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(InputImageError, match=r"cannot read video .*junk.mp4: not a video, or corrupt"):
        run(junk, tmp_path / "out.mp4")
    with pytest.raises(InputImageError, match="no such file"):
        run(tmp_path / "missing.mp4", tmp_path / "out.mp4")
    assert names(tmp_path) == ["junk.mp4"]


def test_no_video_stream(tmp_path: Path) -> None:
    sound = tmp_path / "sound.m4a"
    with av.open(str(sound), "w", format="mp4") as container:
        _write_tone(container, _audio_stream(container, "aac"), "aac", seconds=0.5)
    with pytest.raises(InputImageError, match=r"sound.m4a has no video stream \(streams: audio\)"):
        run(sound, tmp_path / "out.mp4")
    from PIL import Image

    Image.fromarray(pattern(0, 20, 20)).save(tmp_path / "photo.png")
    with pytest.raises(InputImageError, match="still image"):
        run(tmp_path / "photo.png", tmp_path / "out.mp4")
    assert names(tmp_path) == ["photo.png", "sound.m4a"]


def test_unsupported_codec(tmp_path: Path) -> None:
    source = tmp_path / "in.mkv"
    make_clip(source, frames=4)
    data = source.read_bytes()
    assert b"V_MPEG4/ISO/AVC" in data
    source.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_NSTXX/ISO/AVC"))  # a codec id no decoder knows
    with pytest.raises(InputImageError, match="video codec is not supported"):
        run(source, tmp_path / "out.mp4")
    assert names(tmp_path) == ["in.mkv"]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"output": "out.gif"}, InputError, "unknown video suffix"),
        ({"output": "out.mp4", "frames_out": "frames"}, InputError, "not both"),
        ({"output": None}, InputError, "not both or neither"),
        ({"consistency": "flwo"}, InputError, "did you mean 'flow'"),
        ({"blend": 1.0}, InputError, r"--blend must be a number in \[0, 1\)"),
        ({"crf": 70}, InputError, r"--crf for libx264 must be an integer in 0..51"),
        ({"preset": "fastest"}, InputError, "unknown x264 preset"),
        ({"batch_size": 0}, InputError, "batch_size must be an integer >= 1"),
        ({"output": "out.webm"}, InputError, r"\.webm files cannot hold the source's aac audio.*--no-audio"),
        ({"output": "in.mp4", "force": True}, InputError, "is an input of this job"),
        ({"output": "exists.mp4"}, OutputExistsError, "already exists; use --force"),
        ({"style": "2"}, InputError, "style"),
    ],
)
def test_bad_options(tmp_path: Path, options: dict[str, Any], error: type[Exception], match: str) -> None:
    source = tmp_path / "in.mp4"
    make_clip(source, frames=3, audio="aac")
    (tmp_path / "exists.mp4").write_bytes(b"keep")
    values = {"output": "out.mp4", "consistency": "none", **options}
    for key in ("output", "frames_out"):
        if values.get(key) is not None:
            values[key] = tmp_path / values[key]
    with pytest.raises(error, match=match):
        stylize_video(VideoOptions(source, **values))
    assert names(tmp_path) == ["exists.mp4", "in.mp4"] and (tmp_path / "exists.mp4").read_bytes() == b"keep"


def test_frames_below_the_models_minimum(tmp_path: Path) -> None:
    source = tmp_path / "tiny.mp4"
    make_clip(source, size=(12, 10), frames=3)
    with pytest.raises(InputError, match="too small"):
        run(source, tmp_path / "out.mp4")
    assert names(tmp_path) == ["tiny.mp4"]


def test_missing_dependencies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nst.errors import MissingDependencyError

    source = tmp_path / "in.mp4"
    make_clip(source, frames=3)
    monkeypatch.setitem(__import__("sys").modules, "cv2", None)
    with pytest.raises(MissingDependencyError, match=r"cv2 is not installed.*nst\[video\]"):
        stylize_video(VideoOptions(source, tmp_path / "out.mp4", consistency="flow"))
    monkeypatch.setitem(__import__("sys").modules, "av", None)
    with pytest.raises(MissingDependencyError, match=r"av is not installed.*nst\[video\]"):
        run(source, tmp_path / "out.mp4")
    assert is_video(source) and not is_video(tmp_path / "x.png")  # the suffix decides without PyAV
    assert names(tmp_path) == ["in.mp4"]


@pytest.mark.parametrize("frames_out", [False, True])
def test_keyboard_interrupt_leaves_nothing(tmp_path: Path, frames_out: bool) -> None:
    source = tmp_path / "in.mp4"
    make_clip(source, frames=24, audio="aac")
    runner = FakeRunner(fail_at=3, error=KeyboardInterrupt())
    target = {"frames_out": tmp_path / "frames"} if frames_out else {"output": tmp_path / "out.mp4"}
    with pytest.raises(KeyboardInterrupt):
        stylize_video(VideoOptions(source, batch_size=2, consistency="flow", **target), runner=runner)
    assert runner.calls == 3 and names(tmp_path) == ["in.mp4"]
    assert not [t for t in threading.enumerate() if t.name.startswith("nst-video")]


def test_model_error_mid_stream_leaves_nothing(tmp_path: Path) -> None:
    source, out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_clip(source, frames=12)
    out_of_memory = InputError("the model ran out of memory")
    with pytest.raises(InputError, match="out of memory"):
        stylize_video(
            VideoOptions(source, out, batch_size=2), runner=FakeRunner(fail_at=4, error=out_of_memory)
        )
    assert names(tmp_path) == ["in.mp4"]


def test_existing_output_replaced_only_with_force(tmp_path: Path) -> None:
    source, out = tmp_path / "in.mp4", tmp_path / "out.mp4"
    make_clip(source, frames=4)
    out.write_bytes(b"old")
    run(source, out, force=True)
    assert probe(out).frames == 4 and names(tmp_path) == ["in.mp4", "out.mp4"]


# --- temporal consistency ------------------------------------------------------------------


def _panned(frames: int, height: int, width: int) -> list[np.ndarray]:
    """A photo panned diagonally by a non-integer step, with a slow zoom (a camera move)."""
    import cv2
    from skimage import data

    photo = data.astronaut()
    out = []
    for i in range(frames):
        zoom = 1.5 + 0.01 * i
        matrix = np.array([[zoom, 0, 60 + 2.3 * i], [0, zoom, 40 + 1.1 * i]], np.float32)
        out.append(
            cv2.warpAffine(photo, matrix, (width, height), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP)
        )
    return out


def test_flow_consistency_reduces_flicker(tmp_path: Path) -> None:
    pytest.importorskip("cv2")
    source = tmp_path / "pan.mp4"
    make_clip(source, size=(96, 72), images=_panned(20, 72, 96), options=None, frames=20)
    inputs = decode(source)[0]
    errors = {}
    for mode in ("none", "flow"):
        out = tmp_path / f"{mode}.mp4"
        result = stylize_video(VideoOptions(source, out, consistency=mode, crf=0))
        assert result.consistency == mode
        errors[mode] = temporal_error(inputs, decode(out)[0])
    assert errors["flow"] < 0.7 * errors["none"], errors
