from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from nst.cli.main import app
from nst.config import config_to_dict
from nst.errors import InputError
from nst.train.checkpoint import load_checkpoint, save_checkpoint
from nst.train.config import TrainConfig
from nst.train.loop import train
from nst.train.models import build_model
from nst.train.models.cin import CinConfig, CinNet
from nst.train.tasks_multistyle import CinTask, add_style_config
from tests.conftest import tiny_train_config

TINY = {"base_channels": 4, "num_residual": 1}


def _random_gamma_beta(net: CinNet) -> CinNet:
    torch.manual_seed(1)
    with torch.no_grad():
        for norm in net.norms():
            norm.gamma.copy_(torch.rand_like(norm.gamma) + 0.5)
            norm.beta.copy_(torch.randn_like(norm.beta))
    return net.eval()


@pytest.mark.parametrize("shape", [(1, 3, 37, 45), (2, 3, 16, 17)])
def test_any_size_and_both_weight_forms(shape: tuple[int, ...]) -> None:
    net = _random_gamma_beta(CinNet(CinConfig(4, 1, num_styles=3)))
    x = torch.rand(*shape)
    w = torch.tensor([0.2, 0.3, 0.5])
    with torch.no_grad():
        shared = net(x, w)  # (S,): the exported form
        per_image = net(x, w.expand(shape[0], 3))  # (N, S): the training form
    assert shared.shape == shape and shared.min() >= 0 and shared.max() <= 1
    torch.testing.assert_close(shared, per_image)


def test_weights_mix_gamma_beta_not_outputs() -> None:
    """(0.5, 0.5) is the net whose every γ/β is the mean row."""
    two = _random_gamma_beta(CinNet(CinConfig(4, 1, num_styles=2)))
    one = CinNet(CinConfig(4, 1, num_styles=1)).eval()
    state = {k: v.mean(0, keepdim=True) if k.endswith(("gamma", "beta")) else v
             for k, v in two.state_dict().items()}  # fmt: skip
    one.load_state_dict(state)
    x = torch.rand(1, 3, 32, 40)
    with torch.no_grad():
        mixed = two(x, torch.tensor([0.5, 0.5]))
        a, b = two(x, torch.tensor([1.0, 0.0])), two(x, torch.tensor([0.0, 1.0]))
        torch.testing.assert_close(mixed, one(x, torch.tensor([1.0])))
    assert (mixed - (a + b) / 2).abs().mean() > 1e-3  # not an average of the two outputs


def test_config_and_style_count_errors(content_dir: Path, style_image: Path, vgg_weights: Path) -> None:
    with pytest.raises(InputError, match="invalid CinConfig"):
        CinConfig(num_styles=0)
    cfg = tiny_train_config(
        content_dir, style_image, vgg_weights, family="cin", model={**TINY, "num_styles": 3}
    )
    with pytest.raises(InputError, match="num_styles=3 but 1 style images"):
        CinTask(cfg, torch.device("cpu"))


def test_style_draws_depend_on_seed_and_step_only(content_dir: Path, style_image: Path,
                                                  vgg_weights: Path) -> None:  # fmt: skip
    styles = (str(style_image),) * 4
    task = CinTask(tiny_train_config(content_dir, style_image, vgg_weights, family="cin", styles=styles,
                                     model=TINY), torch.device("cpu"))  # fmt: skip
    draws = []
    for step in (5, 6, 5):
        task.set_step(step)
        draws.append(task.draw_styles(64))
    assert torch.equal(draws[0], draws[2]) and not torch.equal(draws[0], draws[1])
    assert set(draws[0].tolist()) == {0, 1, 2, 3}


def _second_style(style_image: Path, folder: Path) -> Path:
    path = folder / "inverted.png"
    Image.fromarray(255 - np.asarray(Image.open(style_image).convert("RGB"))).save(path)
    return path


def test_add_style_trains_only_the_new_rows(tmp_path: Path, content_dir: Path, style_image: Path,
                                           vgg_weights: Path) -> None:  # fmt: skip
    second = _second_style(style_image, tmp_path)
    cfg = tiny_train_config(content_dir, style_image, vgg_weights, family="cin", model=TINY, steps=2,
                            styles=(str(style_image), str(second)))  # fmt: skip
    full = train(cfg, tmp_path / "full", progress=False)
    new_style = tmp_path / "third.png"
    Image.fromarray(np.asarray(Image.open(style_image))[:, ::-1, ::-1].copy()).save(new_style)
    args = ["train", "--from", str(full.checkpoint), "--add-style", str(new_style),
            "--content", str(content_dir), "-o", str(tmp_path / "add"), "--steps", "2", "--batch-size", "2",
            "--image-size", "32", "--style-size", "48", "--device", "cpu", "--vgg-weights", str(vgg_weights),
            "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("trained cin for 2 steps")
    old, new = load_checkpoint(full.checkpoint), load_checkpoint(tmp_path / "add" / "checkpoint.pt")
    assert new["styles"] == ["stripes", "inverted", "third"] and new["model_config"]["num_styles"] == 3
    tables = 0
    for name, before in old["state_dict"].items():
        after = new["state_dict"][name]
        if name.endswith(("gamma", "beta")):
            tables += 1
            assert torch.equal(after[:2], before), name  # bit for bit
            assert not torch.equal(after[2], before.mean(0)), name  # the new row learnt
        else:
            assert torch.equal(after, before), name
    assert tables == 2 * len(CinNet(CinConfig(**TINY)).norms())
    grown = CinTask(add_style_config(full.checkpoint, (str(new_style),), cfg), torch.device("cpu"))
    assert grown.trained_parameter_count() == sum(2 * n.gamma.shape[1] for n in grown.model.norms())


def test_add_style_errors(tmp_path: Path, style_image: Path) -> None:
    johnson = build_model("johnson", TINY)
    save_checkpoint(tmp_path / "j.pt", {
        "family": "johnson", "model_config": config_to_dict(johnson.config),
        "train_config": config_to_dict(TrainConfig(styles=("a.png",))), "styles": ["a"],
        "state_dict": johnson.state_dict(), "step": 1,
    })  # fmt: skip
    with pytest.raises(InputError, match="needs a cin or stylebank checkpoint"):
        add_style_config(tmp_path / "j.pt", (str(style_image),), TrainConfig())
    with pytest.raises(InputError, match="at least one --add-style"):
        add_style_config(tmp_path / "j.pt", (), TrainConfig())
    cli = CliRunner()
    base = ["train", "--content", str(tmp_path), "-o", str(tmp_path / "r")]
    result = cli.invoke(app, [*base, "--add-style", str(style_image)])
    assert result.exit_code == 1 and "--add-style needs --from" in result.output
    result = cli.invoke(app, [*base, "--from", str(tmp_path / "j.pt"), "--style", str(style_image)])
    assert result.exit_code == 1 and "only --add-style" in result.output
