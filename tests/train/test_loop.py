import json
from pathlib import Path

import pytest
import torch

from nst.errors import InputError, OutputExistsError
from nst.train.checkpoint import load_checkpoint, model_from_checkpoint
from nst.train.loop import train
from tests.conftest import tiny_train_config


def test_checkpoint_contents_and_artefacts(tiny_checkpoint: Path) -> None:
    ckpt = torch.load(tiny_checkpoint, weights_only=True)  # no pickled code needed
    assert ckpt["family"] == "johnson" and ckpt["step"] == 4 and ckpt["styles"] == ["stripes"]
    assert ckpt["model_config"] == {"base_channels": 4, "num_residual": 1, "variant": "paper"}
    assert ckpt["train_config"]["image_size"] == 32
    assert ckpt["history"]["step"] == [2, 4] and len(ckpt["history"]["total"]) == 2
    run = tiny_checkpoint.parent
    assert (run / "loss_curve.png").stat().st_size > 1000
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_000002.png", "step_000004.png"]
    assert json.loads((run / "config.json").read_text())["steps"] == 4
    model_from_checkpoint(load_checkpoint(tiny_checkpoint))


def test_existing_run_needs_resume_or_force(tiny_checkpoint: Path, content_dir: Path, style_image: Path,
                                            vgg_weights: Path) -> None:  # fmt: skip
    before = tiny_checkpoint.read_bytes()
    with pytest.raises(OutputExistsError, match="--resume"):
        train(
            tiny_train_config(content_dir, style_image, vgg_weights), tiny_checkpoint.parent, progress=False
        )
    assert tiny_checkpoint.read_bytes() == before


def test_resume_equals_uninterrupted_run(tmp_path: Path, content_dir: Path, style_image: Path,
                                         vgg_weights: Path) -> None:  # fmt: skip
    cfg = tiny_train_config(content_dir, style_image, vgg_weights, steps=6)
    full = train(cfg, tmp_path / "full", progress=False)
    half = train(
        tiny_train_config(content_dir, style_image, vgg_weights, steps=2), tmp_path / "half", progress=False
    )
    assert half.steps == 2
    resumed = train(cfg, tmp_path / "half", resume=True, progress=False)
    assert resumed.steps == 6
    a = load_checkpoint(full.checkpoint)["state_dict"]
    b = load_checkpoint(resumed.checkpoint)["state_dict"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], msg=key)


def test_resume_rejects_changed_config(tmp_path: Path, content_dir: Path, style_image: Path,
                                       vgg_weights: Path) -> None:  # fmt: skip
    train(tiny_train_config(content_dir, style_image, vgg_weights, steps=2), tmp_path, progress=False)
    with pytest.raises(InputError, match="only --steps"):
        train(
            tiny_train_config(content_dir, style_image, vgg_weights, steps=4, lr=0.1), tmp_path, resume=True
        )


def test_training_lowers_the_loss(
    tmp_path: Path, content_dir: Path, style_image: Path, vgg_weights: Path
) -> None:
    cfg = tiny_train_config(content_dir, style_image, vgg_weights, steps=40, log_every=5, lr=1e-2)
    result = train(cfg, tmp_path, progress=False)
    history = load_checkpoint(result.checkpoint)["history"]
    assert history["total"][-1] < 0.8 * history["total"][0]


def test_bad_configs_are_input_errors(
    tmp_path: Path, content_dir: Path, style_image: Path, vgg_weights: Path
) -> None:
    with pytest.raises(InputError, match="image_size"):
        tiny_train_config(content_dir, style_image, vgg_weights, image_size=8)
    with pytest.raises(InputError, match="style image"):
        train(tiny_train_config(content_dir, style_image, vgg_weights, styles=()), tmp_path)
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA"):
            train(tiny_train_config(content_dir, style_image, vgg_weights, device="cuda"), tmp_path)
