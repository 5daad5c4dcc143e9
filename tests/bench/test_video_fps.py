"""nst.bench.video_fps on a tiny synthetic clip through the real pipeline (PyAV, ORT, DIS flow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nst.bench.video_fps import available_targets, check_video_targets, run_video_bench
from nst.errors import InputError, OutputExistsError
from tests.runtime.onnx_models import tiny_model
from tests.runtime.test_video import make_clip

pytest.importorskip("av")
pytest.importorskip("cv2")


def test_fps_per_target_and_consistency(tmp_path: Path) -> None:
    tiny_onnx = tiny_model(tmp_path / "tiny.onnx")  # torch-eager: the johnson net its metadata names
    clip = tmp_path / "clip.mp4"
    make_clip(clip, size=(48, 36), frames=6)
    targets = ["ort-cpu", "torch-eager", "ort-cuda"]
    result = run_video_bench(
        clip, tiny_onnx, targets=targets, batch_size=4, out_dir=tmp_path / "bench", tag="v"
    )
    cases = result.cases
    assert [(c.target, c.consistency) for c in cases] == [(t, c) for t in targets for c in ("none", "flow")]
    for case in cases:
        if case.target == "ort-cuda" and "ort-cuda" not in available_targets():
            assert case.fps is None and "CUDAExecutionProvider" in (case.skipped or "")
            continue
        assert case.frames == 6 and (case.width, case.height) == (48, 36)
        assert case.fps is not None and case.fps > 0 and case.seconds is not None
    assert "benchmarked 4 video cases" in result.summary() and "frames/s" in result.summary()
    record = json.loads(result.json_path.read_text())
    assert record["clip"] == "clip.mp4" and len(record["cases"]) == 6
    table = result.md_path.read_text()
    assert "| ort-cpu | " in table and "| flow |" in table
    with pytest.raises(OutputExistsError, match="--force"):  # refused before measuring
        run_video_bench(clip, tiny_onnx, targets=["ort-cpu"], out_dir=tmp_path / "bench", tag="v")


def test_names_are_checked_before_any_work() -> None:
    with pytest.raises(InputError, match=r"unknown video target 'ort-cpux'.*ort-cpu"):
        check_video_targets(["ort-cpux"], ["none"], None)
    with pytest.raises(InputError, match="unknown consistency 'blend'"):
        check_video_targets(["ort-cpu"], ["blend"], None)
    with pytest.raises(InputError, match="needs --engine"):
        check_video_targets(["trt"], ["none"], None)


def test_bench_video_through_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from nst.cli.main import app

    tiny_onnx = tiny_model(tmp_path / "tiny.onnx")
    clip = tmp_path / "clip.mp4"
    make_clip(clip, size=(40, 32), frames=4)
    out = tmp_path / "bench"
    args = ["bench", str(tiny_onnx), "--video", str(clip), "--target", "ort-cpu", "--out-dir", str(out)]
    result = CliRunner().invoke(app, [*args, "--consistency", "none", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output.strip().splitlines()[-1])
    assert [c["consistency"] for c in record["cases"]] == ["none"] and record["cases"][0]["fps"] > 0
    assert (out / "video-fps.md").is_file()
    for extra, message in ((["--batch", "1", "--batch", "2"], "one --batch size"),
                           (["--model", str(tiny_onnx)], "--model baselines"),
                           (["--force", "--consistency", "blend"], "unknown consistency")):  # fmt: skip
        bad = CliRunner().invoke(app, [*args, *extra])
        assert bad.exit_code == 1 and message in bad.output, bad.output
    no_clip = CliRunner().invoke(app, ["bench", str(tiny_onnx), "--consistency", "flow"])
    assert no_clip.exit_code == 1 and "--consistency needs --video" in no_clip.output
