"""The lines ``nst stylize`` needs for videos, in a private Typer app (cli/ is the lead's).

``_stylize`` below is what the video branch of ``cli/stylize_cmd.py`` is proposed to be:
route a single video input (found by probing) to ``stylize_video`` with a tqdm bar fed by
the ``on_frame`` callback, and print the summary line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from nst.cli.app import handle_errors
from nst.runtime.video import probe
from tests.runtime.test_video import make_clip

pytest.importorskip("av")
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@contextlib.contextmanager
def _frame_progress(enabled: bool) -> Iterator[Callable[[int, int | None], None]]:
    """An ``on_frame(done, total)`` callback drawing a tqdm bar (frames/s and ETA)."""
    from tqdm import tqdm

    bars: list[tqdm] = []

    def update(done: int, total: int | None) -> None:
        if not bars:  # drawn from the first frame on, so an early error prints only its line
            bars.append(tqdm(total=total, disable=not enabled, desc="stylize", unit="frame"))
        bars[0].update(done - bars[0].n)

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()


@app.command()
@handle_errors
def _stylize(
    paths: list[Path],
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    frames_out: Annotated[Path | None, typer.Option()] = None,
    consistency: Annotated[str, typer.Option()] = "flow",
    blend: Annotated[float, typer.Option()] = 0.5,
    audio: Annotated[bool, typer.Option()] = True,
    batch_size: Annotated[int, typer.Option()] = 4,
    progress: Annotated[bool, typer.Option()] = True,
) -> None:
    from nst.runtime.stylize_job import split_model
    from nst.runtime.video import VideoOptions, is_video, stylize_video

    model_path, inputs = split_model(tuple(paths), None)
    if len(inputs) == 1 and is_video(inputs[0]):
        video = VideoOptions(
            inputs[0], output, frames_out=frames_out, model=model_path, batch_size=batch_size,
            consistency=consistency, blend=blend, audio=audio,
        )  # fmt: skip
        with _frame_progress(progress) as on_frame:
            typer.echo(stylize_video(video, on_frame).summary())
        return
    raise typer.Exit(2)  # the image path (not part of this harness)


def test_cli_routes_a_video_and_prints_one_line(tmp_path: Path) -> None:
    source, out = tmp_path / "clip.mkv", tmp_path / "out.mp4"
    make_clip(source, frames=12, audio="aac")
    result = CliRunner().invoke(app, [str(source), "-o", str(out), "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    assert "12/12" in result.output and "frame/s" in result.output  # the progress bar (stderr)
    assert "stylized 12 frames (48x36 @ 24.000 fps" in result.output
    assert probe(out).frames == 12

    quiet = CliRunner().invoke(app, [str(source), "--frames-out", str(tmp_path / "f"), "--no-progress"])
    assert quiet.exit_code == 0 and quiet.output.count("\n") == 1, quiet.output


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 4096)
    result = CliRunner().invoke(app, [str(junk), "-o", str(tmp_path / "out.mp4")])
    assert result.exit_code == 1 and result.output.startswith("error: cannot read video")
    assert result.output.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.mp4"]
