"""The temporal loss on synthetic warped pairs (nst.train.temporal) and its hook in training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from nst.errors import CheckpointError, InputError
from nst.train.checkpoint import load_checkpoint
from nst.train.loop import train
from nst.train.models import build_model
from nst.train.tasks_single import SingleStyleTask
from nst.train.temporal import identity_affine, make_pair, random_affine, temporal_loss, valid_mask, warp
from tests.conftest import tiny_train_config
from tests.train.test_ddp import two_ranks_and_one_process


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("johnson", {"base_channels": 4, "num_residual": 1}).eval()


def test_identity_warp_without_noise_gives_zero_loss() -> None:
    content = torch.rand(2, 3, 32, 40, generator=torch.Generator().manual_seed(0))
    net = _net()
    pair = make_pair(content, torch.Generator().manual_seed(1), noise_std=0.0, theta=identity_affine(2))
    torch.testing.assert_close(pair.frame, content, rtol=0, atol=1e-6)
    assert bool((pair.mask == 1).all())
    with torch.no_grad():
        loss = temporal_loss(net(content), net(pair.frame), pair)
    assert float(loss) < 1e-10


def test_a_random_move_or_noise_gives_a_positive_loss() -> None:
    content = torch.rand(2, 3, 32, 40, generator=torch.Generator().manual_seed(0))
    net = _net()
    with torch.no_grad():
        moved = make_pair(content, torch.Generator().manual_seed(1), noise_std=0.0)
        noisy = make_pair(content, torch.Generator().manual_seed(1), theta=identity_affine(2))
        assert float(temporal_loss(net(content), net(moved.frame), moved)) > 1e-6
        assert float(temporal_loss(net(content), net(noisy.frame), noisy)) > 1e-6


def test_moves_are_small_seeded_and_masked_at_the_borders() -> None:
    a = random_affine(8, torch.Generator().manual_seed(3))
    b = random_affine(8, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    assert float((a - identity_affine(8)).abs().max()) < 0.1  # a few percent of the frame
    # a pure shift by 4 px right: the 4 uncovered columns are invalid, the rest is the image moved
    theta = torch.tensor([[[1.0, 0.0, -8 / 32], [0.0, 1.0, 0.0]]])
    image = torch.rand(1, 3, 16, 32, generator=torch.Generator().manual_seed(0))
    mask = valid_mask(theta, image)
    assert mask[0, 0, :, :4].sum() == 0 and bool((mask[0, 0, :, 4:] == 1).all())
    torch.testing.assert_close(warp(image, theta)[..., 4:], image[..., :-4], rtol=0, atol=1e-5)


def test_training_with_the_flag_records_it_and_logs_the_term(
    tmp_path: Path, content_dir: Path, style_image: Path, vgg_weights: Path
) -> None:
    cfg = tiny_train_config(content_dir, style_image, vgg_weights, steps=2, temporal_weight=5.0)
    result = train(cfg, tmp_path / "run", progress=False)
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt["train_config"]["temporal_weight"] == 5.0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["temporal_weight"] == 5.0
    assert result.final_losses["temporal"] > 0
    parts = sum(result.final_losses[k] for k in ("content", "style", "tv", "temporal"))
    assert result.final_losses["total"] == pytest.approx(parts, rel=1e-5)
    # fine-tuning from it (--init) starts from its weights
    init = tiny_train_config(content_dir, style_image, vgg_weights, init_from=str(result.checkpoint))
    task = SingleStyleTask(init, torch.device("cpu"))
    for key, value in ckpt["state_dict"].items():
        torch.testing.assert_close(task.model.state_dict()[key], value, rtol=0, atol=0, msg=key)


def test_flag_is_refused_where_the_loop_would_ignore_it(content_dir: Path, style_image: Path,
                                                       vgg_weights: Path) -> None:  # fmt: skip
    with pytest.raises(InputError, match="temporal_weight is supported for johnson, not 'cin'"):
        tiny_train_config(content_dir, style_image, vgg_weights, family="cin", temporal_weight=1.0)
    with pytest.raises(InputError, match="temporal_weight must be >= 0"):
        tiny_train_config(content_dir, style_image, vgg_weights, temporal_weight=-1.0)


def test_init_from_another_model_config_is_refused(tmp_path: Path, tiny_checkpoint: Path, content_dir: Path,
                                                   style_image: Path, vgg_weights: Path) -> None:  # fmt: skip
    cfg = tiny_train_config(content_dir, style_image, vgg_weights, init_from=str(tiny_checkpoint),
                            model={"base_channels": 8, "num_residual": 1})  # fmt: skip
    with pytest.raises(InputError, match="--init checkpoint is johnson"):
        train(cfg, tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        train(tiny_train_config(content_dir, style_image, vgg_weights, init_from=str(tmp_path / "x.pt")),
              tmp_path / "b", progress=False)  # fmt: skip


@pytest.mark.slow
def test_two_ranks_train_with_the_temporal_loss(tmp_path: Path, content_dir: Path, style_image: Path,
                                                vgg_weights: Path) -> None:  # fmt: skip
    # each shard draws its pair from (seed, virtual step), so 2 ranks == 1 process over 2 shards
    cfg = tiny_train_config(content_dir, style_image, vgg_weights, steps=2, log_every=1, batch_shards=2,
                            temporal_weight=5.0)  # fmt: skip
    a, b = two_ranks_and_one_process(cfg, tmp_path)
    assert a["history"]["temporal"][0] > 0
    for key in ("total", "temporal"):
        torch.testing.assert_close(a["history"][key], b["history"][key], rtol=1e-4, atol=0, msg=key)


def test_cli_refuses_init_where_it_does_not_apply(
    tmp_path: Path, content_dir: Path, style_image: Path
) -> None:
    from typer.testing import CliRunner

    from nst.cli.main import app

    base = ["train", "-c", str(content_dir), "-o", str(tmp_path / "run")]
    style = ["-s", str(style_image)]
    cases = [
        ([*style, "--init", "x.pt", "--family", "cin"], "--init fine-tunes a johnson net"),
        (["--init", "x.pt", "--from", "y.pt"], "--init starts a single-style net from a checkpoint"),
        ([*style, "--family", "cin", "--temporal-weight", "1"], "temporal_weight is supported for johnson"),
    ]
    for extra, message in cases:
        result = CliRunner().invoke(app, base + extra)
        assert result.exit_code == 1 and message in " ".join(result.output.split()), result.output
    assert not (tmp_path / "run").exists()
