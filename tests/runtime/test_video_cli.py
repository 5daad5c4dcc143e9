"""``nst stylize`` on videos, through the real command: one summary line, a frames/s bar, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nst.cli.main import app
from nst.runtime.video import probe
from tests.runtime.test_video import make_clip

pytest.importorskip("av")


def test_cli_routes_a_video_and_prints_one_line(tmp_path: Path) -> None:
    source, out = tmp_path / "clip.mkv", tmp_path / "out.mp4"
    make_clip(source, frames=12, audio="aac")
    result = CliRunner().invoke(app, ["stylize", str(source), "-o", str(out), "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    assert "12/12" in result.output and "frame/s" in result.output  # the progress bar (stderr)
    assert "stylized 12 frames (48x36 @ 24.000 fps" in result.output
    assert probe(out).frames == 12

    args = ["stylize", str(source), "--frames-out", str(tmp_path / "f"), "--no-progress"]
    quiet = CliRunner().invoke(app, args)
    assert quiet.exit_code == 0 and quiet.output.count("\n") == 1, quiet.output


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 4096)
    result = CliRunner().invoke(app, ["stylize", str(junk), "-o", str(tmp_path / "out.mp4")])
    assert result.exit_code == 1 and result.output.startswith("error: cannot read video")
    assert result.output.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.mp4"]
