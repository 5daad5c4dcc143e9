"""Multi-process training on CPU with gloo: 2 ranks == 1 process over the same 2 shards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nst.errors import InputError
from nst.train.checkpoint import load_checkpoint
from nst.train.config import TrainConfig
from nst.train.distributed import DistContext, check_world, launch, launcher_args, run_payload
from nst.train.loop import train
from tests.conftest import tiny_train_config

REPO = Path(__file__).resolve().parents[2]


def two_ranks_and_one_process(cfg: TrainConfig, folder: Path) -> tuple[dict, dict]:
    """The checkpoints of ``cfg`` trained by 2 gloo ranks and by 1 process over the same shards."""
    launch(launcher_args(2, "1", None), run_payload(cfg, folder / "ddp", False, False, 60.0))
    # torchrun runs each rank on 1 thread; the same here makes every shard's kernels (and so the
    # weights) bit-identical. With other thread counts the float noise in the zero true gradients of
    # conv biases before InstanceNorm becomes +-lr Adam steps, so only losses would be comparable.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = train(cfg, folder / "one", progress=False)
    finally:
        torch.set_num_threads(threads)
    return load_checkpoint(folder / "ddp" / "checkpoint.pt"), load_checkpoint(one.checkpoint)


@pytest.mark.slow
def test_two_ranks_match_one_process(tmp_path: Path, content_dir: Path, style_image: Path,
                                     vgg_weights: Path) -> None:  # fmt: skip
    # global batch 2 x 2: two ranks at batch 2 vs one process accumulating both shards
    cfg = tiny_train_config(content_dir, style_image, vgg_weights, steps=4, log_every=1, batch_shards=2)
    a, b = two_ranks_and_one_process(cfg, tmp_path)
    assert a["step"] == b["step"] == 4 and a["history"]["step"] == [1, 2, 3, 4]
    for key in ("total", "content", "style", "tv"):
        torch.testing.assert_close(a["history"][key], b["history"][key], rtol=1e-4, atol=0, msg=key)
    for key, value in b["state_dict"].items():
        torch.testing.assert_close(a["state_dict"][key], value, rtol=1e-4, atol=1e-6, msg=key)
    assert a["history"]["total"][-1] != a["history"]["total"][0]  # it trained


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_killed_rank_fails_fast_with_a_message(tmp_path: Path, content_dir: Path, style_image: Path,
                                               vgg_weights: Path) -> None:  # fmt: skip
    # ranks started as torchrun would (env), rank 1 dies before step 1: rank 0 must not hang
    port = _free_port()
    args = [sys.executable, "-m", "nst.cli.main", "train", "-c", str(content_dir), "-s", str(style_image),
            "-o", str(tmp_path / "run"), "-m", "base_channels=4", "-m", "num_residual=1", "--steps", "3",
            "--batch-size", "1", "--image-size", "32", "--style-size", "48", "--device", "cpu",
            "--vgg-weights", str(vgg_weights), "--no-progress", "--dist-timeout", "20"]  # fmt: skip
    procs = []
    start = time.monotonic()
    for rank in (0, 1):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "NST_TEST_DDP_EXIT": "1,1"}  # fmt: skip
        procs.append(subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))  # fmt: skip
    try:
        _, err0 = procs[0].communicate(timeout=120)
        procs[1].communicate(timeout=30)
    finally:
        for p in procs:
            p.kill()
    assert procs[1].returncode == 3
    assert procs[0].returncode == 1, err0
    assert "error: rank 0/2:" in err0 and "another rank died or hung" in err0, err0
    assert time.monotonic() - start < 110


@pytest.mark.slow
def test_cli_launcher_names_the_rank_that_died(tmp_path: Path, content_dir: Path, style_image: Path,
                                               vgg_weights: Path) -> None:  # fmt: skip
    args = [sys.executable, "-m", "nst.cli.main", "train", "-c", str(content_dir), "-s", str(style_image),
            "-o", str(tmp_path / "run"), "-m", "base_channels=4", "-m", "num_residual=1", "--steps", "2",
            "--batch-size", "1", "--image-size", "32", "--style-size", "48", "--device", "cpu",
            "--vgg-weights", str(vgg_weights), "--no-progress", "--nproc", "2"]  # fmt: skip
    env = {**os.environ, "NST_TEST_DDP_EXIT": "1,1"}
    done = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "error: distributed training failed: rank 1 exited first (code 3)" in done.stderr, done.stderr


def test_world_size_must_divide_the_shards(content_dir: Path, style_image: Path, vgg_weights: Path) -> None:
    cfg = tiny_train_config(content_dir, style_image, vgg_weights, batch_shards=3)
    with pytest.raises(InputError, match="2 processes cannot split it"):
        check_world(cfg, DistContext(rank=0, world_size=2, local_rank=0))
    with pytest.raises(InputError, match="--device cuda"):
        check_world(tiny_train_config(content_dir, style_image, vgg_weights, batch_shards=2, device="cuda:1"),
                    DistContext(rank=0, world_size=2, local_rank=0))  # fmt: skip
    with pytest.raises(InputError, match="--rdzv-endpoint"):
        launcher_args(2, "2", None)
    assert launcher_args(2, "1", None)[-1] == "--standalone"


def test_resume_refuses_other_shards(tmp_path: Path, content_dir: Path, style_image: Path,
                                     vgg_weights: Path) -> None:  # fmt: skip
    train(tiny_train_config(content_dir, style_image, vgg_weights, steps=1), tmp_path, progress=False)
    cfg = tiny_train_config(content_dir, style_image, vgg_weights, steps=2, batch_shards=2)
    with pytest.raises(InputError, match="resume with --shards 1"):
        train(cfg, tmp_path, resume=True, progress=False)


def test_old_checkpoints_without_shards_resume(tmp_path: Path, content_dir: Path, style_image: Path,
                                               vgg_weights: Path) -> None:  # fmt: skip
    from nst.train.checkpoint import save_checkpoint

    cfg = tiny_train_config(content_dir, style_image, vgg_weights, steps=1)
    train(cfg, tmp_path, progress=False)
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    del ckpt["train_config"]["batch_shards"]  # as written before shards existed
    save_checkpoint(tmp_path / "checkpoint.pt", {k: v for k, v in ckpt.items() if k != "format"})
    assert train(tiny_train_config(content_dir, style_image, vgg_weights, steps=2), tmp_path, resume=True,
                 progress=False).steps == 2  # fmt: skip
