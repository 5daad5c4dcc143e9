"""``nst stylize clip.mkv -o out.mp4``: the real command routes a video to the video job."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nst.cli.main import app

av = pytest.importorskip("av")
from tests.runtime.test_video import make_clip  # noqa: E402

cli = CliRunner()


def test_nst_stylize_routes_a_video_and_keeps_frames(tmp_path: Path) -> None:
    source, out = tmp_path / "clip.mkv", tmp_path / "out.mp4"
    make_clip(source, frames=6, audio="aac")
    result = cli.invoke(app, ["stylize", str(source), "-o", str(out), "--consistency", "none"])
    assert result.exit_code == 0, result.output
    assert "stylized 6 frames (48x36" in result.output
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 6


def test_video_flags_are_refused_for_images_and_output_is_required(tmp_path: Path) -> None:
    from PIL import Image

    photo = tmp_path / "p.png"
    Image.new("RGB", (20, 20)).save(photo)
    result = cli.invoke(app, ["stylize", str(photo), "-o", str(tmp_path / "o.png"), "--blend", "0.5"])
    assert result.exit_code == 1 and "--blend apply to videos, not images" in result.output
    result = cli.invoke(app, ["stylize", str(photo)])
    assert result.exit_code == 1 and "give the output file or folder: -o OUTPUT" in result.output
