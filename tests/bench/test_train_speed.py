"""``nst bench-train``: both loops run the real step on a tiny net and report the same first loss."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nst.bench.train_speed import LoopOptions, loop_variants, run_train_speed
from nst.errors import InputError
from nst.train.config import TrainConfig


def _config(content_dir: Path, style_image: Path, vgg_weights: Path) -> TrainConfig:
    return TrainConfig(family="johnson", content_dir=str(content_dir), styles=(str(style_image),),
                       model={"base_channels": 4, "num_residual": 1}, batch_size=2, image_size=32,
                       style_size=32, device="cpu", vgg_weights=str(vgg_weights))  # fmt: skip


def test_loops_agree_on_the_first_loss(content_dir: Path, style_image: Path, vgg_weights: Path) -> None:
    variants = [("plain", LoopOptions(cached_gram=False)), ("cached-gram", LoopOptions()),
                ("+channels-last", LoopOptions(channels_last=True)),
                ("+amp-fp16", LoopOptions(amp="fp16"))]  # fmt: skip
    result = run_train_speed(_config(content_dir, style_image, vgg_weights), variants, steps=2, warmup=0)
    plain, cached, nhwc, fp16 = result.cases
    for case in (plain, cached, nhwc):
        assert case.status == "ok" and case.runs == 2
        assert case.steps_per_s and case.images_per_s and case.speedup
        assert math.isfinite(case.initial_loss or math.nan) and math.isfinite(case.last_loss or math.nan)
    assert cached.initial_loss == pytest.approx(plain.initial_loss, rel=1e-5)
    assert nhwc.initial_loss == pytest.approx(plain.initial_loss, rel=1e-4)
    assert plain.speedup == 1.0
    assert fp16.status == "n/a" and "CUDA" in fp16.reason
    assert result.machine["cores"] and result.setup["image_size"] == 32


def test_loading_in_the_step_in_process_and_in_workers(
    content_dir: Path, style_image: Path, vgg_weights: Path
) -> None:
    variants = [("cached-gram", LoopOptions()), *loop_variants(False, None, False, 1, False)[2:],
                ("pinned", LoopOptions(loader="workers", workers=1, pin_memory=True))]  # fmt: skip
    assert [n for n, _ in variants] == ["cached-gram", "+load-in-process", "+load-1-workers", "pinned"]
    result = run_train_speed(_config(content_dir, style_image, vgg_weights), variants, steps=2, warmup=0)
    cached, in_process, workers, pinned = result.cases
    for case in (in_process, workers):
        assert case.status == "ok" and case.runs == 2 and case.steps_per_s
        # step 0's batch is the same whether drawn before timing, in the step or by a worker
        assert case.initial_loss == pytest.approx(cached.initial_loss, rel=1e-6)
    assert workers.options["workers"] == 1 and workers.options["loader"] == "workers"
    assert pinned.status == "n/a" and "pinned memory" in pinned.reason and "cpu" in pinned.reason


def test_variants_and_bad_amp() -> None:
    names = [n for n, _ in loop_variants(True, "bf16", True)]
    assert names == ["plain", "cached-gram", "+channels-last", "+amp-bf16", "+compile", "fast"]
    with pytest.raises(InputError, match="unknown --amp 'fp8'"):
        loop_variants(False, "fp8", False)
    names = [n for n, _ in loop_variants(False, None, False, 2, True)]
    assert names == ["plain", "cached-gram", "+load-in-process", "+load-2-workers-pinned"]
    with pytest.raises(InputError, match="--pin-memory applies to the worker loader"):
        loop_variants(False, None, False, 0, True)
    with pytest.raises(InputError, match="--loader-workers must be >= 0"):
        loop_variants(False, None, False, -1, False)


def test_cli_writes_results_and_refuses_to_overwrite(
    tmp_path: Path, content_dir: Path, style_image: Path, vgg_weights: Path
) -> None:
    import nst.cli.bench_train_cmd  # registers the command
    import nst.cli.main  # noqa: F401  the other commands (a one-command app takes no command name)
    from nst.cli.app import app

    args = ["bench-train", "--content", str(content_dir), "--style", str(style_image), "--size", "32",
            "--batch", "1", "--style-size", "32", "--base-channels", "4", "--num-residual", "1",
            "--steps", "1", "--warmup", "0", "--device", "cpu", "--vgg-weights", str(vgg_weights),
            "--out-dir", str(tmp_path)]  # fmt: skip
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "bench-train: plain" in first.output
    record = json.loads((tmp_path / "bench-train.json").read_text())
    assert [c["name"] for c in record["cases"]] == ["plain", "cached-gram"]
    assert "| plain |" in (tmp_path / "bench-train.md").read_text()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 1 and "exists" in again.output
