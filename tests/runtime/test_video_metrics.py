"""E_warp (Lai et al. 2018) on synthetic frames and clips, with real DIS flow and PyAV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nst.errors import InputError
from nst.runtime.video.metrics import video_warping_error, warping_error
from tests.runtime.test_video import make_clip, pattern

pytest.importorskip("cv2")


def _smooth(index: int, height: int = 48, width: int = 64) -> np.ndarray:
    """A smooth pattern moving one pixel right per frame (flow DIS can follow)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    x = xx - index
    rgb = np.stack([np.sin(x / 5) + np.cos(yy / 7), np.sin((x + yy) / 9), np.cos(x / 6 - yy / 8)], axis=2)
    return ((rgb + 2) / 4 * 255).astype(np.uint8)


def test_a_stable_video_scores_near_its_floor_and_flicker_scores_higher() -> None:
    frames = [_smooth(i) for i in range(6)]
    same = warping_error(frames, frames)
    assert same.pairs == 5 and same.e_warp == pytest.approx(same.floor)
    rng = np.random.default_rng(0)
    flicker = [
        np.clip(f.astype(np.int16) + rng.integers(-40, 41, f.shape), 0, 255).astype(np.uint8) for f in frames
    ]
    noisy = warping_error(frames, flicker)
    assert noisy.e_warp > 10 * same.e_warp + 1e-3
    # squared RGB norm in [0, 1]: uniform noise of +-40 levels per channel -> ~3 * (40/255)^2 / 3 * 2
    assert 0.01 < noisy.e_warp < 0.1
    assert noisy.floor == pytest.approx(same.floor)


def test_frames_must_pair_up() -> None:
    frames = [_smooth(i) for i in range(3)]
    with pytest.raises(InputError, match="more frames than the other"):
        warping_error(frames, frames[:2])
    with pytest.raises(InputError, match="frame sizes differ"):
        warping_error(frames, [f[:-2] for f in frames])
    with pytest.raises(InputError, match="at least 2 frames"):
        warping_error(frames[:1], frames[:1])


def test_on_video_files(tmp_path: Path) -> None:
    images = [pattern(i, 36, 48) for i in range(6)]
    make_clip(tmp_path / "a.mp4", images=images)
    make_clip(tmp_path / "b.mkv", images=[255 - im for im in images])
    result = video_warping_error(tmp_path / "a.mp4", tmp_path / "b.mkv")
    assert result.pairs == 5 and result.e_warp >= 0 and "E_warp" in result.summary()


def test_eval_video_command(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    import nst.cli.eval_video_cmd  # noqa: F401 (registers the command, whether or not main lists it yet)
    from nst.cli.main import app

    images = [pattern(i, 36, 48) for i in range(4)]
    make_clip(tmp_path / "a.mp4", images=images)
    make_clip(tmp_path / "b.mp4", images=images)
    result = CliRunner().invoke(
        app, ["eval-video", str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4"), "--json"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["pairs"] == 3 and record["e_warp"] == pytest.approx(record["floor"], abs=1e-3)
    bad = CliRunner().invoke(app, ["eval-video", str(tmp_path / "a.mp4"), str(tmp_path / "none.mp4")])
    assert bad.exit_code == 1 and "error:" in bad.output and "none.mp4" in bad.output
