from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nst.errors import InputError
from nst.train.checkpoint import load_checkpoint
from nst.train.loop import train
from nst.train.models.stylebank import StyleBankConfig, StyleBankNet
from nst.train.tasks_multistyle import AE_PERIOD, StyleBankTask, add_style_config
from tests.conftest import tiny_train_config

TINY = {"base_channels": 4, "bank_layers": 1}


def _styles(style_image: Path, folder: Path) -> tuple[str, str]:
    second = folder / "inverted.png"
    Image.fromarray(255 - np.asarray(Image.open(style_image).convert("RGB"))).save(second)
    return str(style_image), str(second)


@pytest.mark.parametrize(("shape", "mask_hw"), [((1, 3, 37, 45), (16, 20)), ((2, 3, 16, 17), (40, 40))])
def test_any_size_with_masks_at_any_resolution(shape: tuple[int, ...], mask_hw: tuple[int, int]) -> None:
    net = StyleBankNet(StyleBankConfig(4, num_styles=2, bank_layers=1)).eval()
    x = torch.rand(*shape)
    uniform = torch.full((shape[0], 2, *mask_hw), 0.5)
    w = torch.tensor([0.3, 0.7])
    with torch.no_grad():
        out = net(x, w, uniform)
        linear = net.stylize_map(x, w.reshape(1, 2, 1, 1).expand(shape[0], 2, 1, 1))
    assert out.shape == shape and out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(out, linear)  # uniform masks: linear fusion by the weights


def test_config_errors() -> None:
    with pytest.raises(InputError, match="invalid StyleBankConfig"):
        StyleBankConfig(bank_layers=0)


def test_t_plus_one_alternation(
    tmp_path: Path, content_dir: Path, style_image: Path, vgg_weights: Path
) -> None:
    cfg = tiny_train_config(content_dir, style_image, vgg_weights, family="stylebank", model=TINY,
                            styles=_styles(style_image, tmp_path))  # fmt: skip
    task = StyleBankTask(cfg, torch.device("cpu"))
    content = torch.rand(2, 3, 32, 32)
    for step in range(AE_PERIOD):
        task.set_step(step)
        task.model.zero_grad(set_to_none=True)
        losses = task.losses(content)
        losses["total"].backward()
        bank_grads = [p.grad for p in task.model.banks.parameters()]
        if step == AE_PERIOD - 1:  # the auto-encoder step: identity loss, banks untouched
            assert losses["identity"] > 0 and losses["style"] == 0
            assert all(g is None for g in bank_grads)
        else:
            assert losses["style"] > 0 and losses["identity"] == 0
            assert any(g is not None and g.abs().sum() > 0 for g in bank_grads)


def test_add_style_trains_only_the_new_bank(tmp_path: Path, content_dir: Path, style_image: Path,
                                           vgg_weights: Path) -> None:  # fmt: skip
    styles = _styles(style_image, tmp_path)
    cfg = tiny_train_config(content_dir, style_image, vgg_weights, family="stylebank", model=TINY, steps=3,
                            styles=styles)  # fmt: skip
    full = train(cfg, tmp_path / "full", progress=False)
    grown = add_style_config(full.checkpoint, (styles[1],), cfg)
    assert grown.styles == (*styles, styles[1]) and grown.init_from == str(full.checkpoint)
    task = StyleBankTask(grown, torch.device("cpu"))
    trainable = {n for n, p in task.model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("banks.2.") for n in trainable)
    added = train(grown, tmp_path / "add", progress=False)
    old = load_checkpoint(full.checkpoint)["state_dict"]
    new = load_checkpoint(added.checkpoint)["state_dict"]
    assert set(new) - set(old) == {n for n in new if n.startswith("banks.2.")}
    for name, before in old.items():
        assert torch.equal(new[name], before), name  # bit for bit
    assert added.final_losses["identity"] == 0  # no auto-encoder steps while it is frozen
