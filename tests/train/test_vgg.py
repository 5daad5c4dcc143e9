from pathlib import Path

import pytest
import torch

from nst.errors import WeightsError
from nst.train import vgg as vgg_module
from nst.train.vgg import LAYERS, load_vgg16, resolve_weights


def test_layer_indices_follow_torchvision_layout(vgg_weights: Path) -> None:
    net = load_vgg16(("relu4_3",), vgg_weights)
    assert len(net.features) == LAYERS["relu4_3"] + 1
    assert isinstance(net.features[LAYERS["relu2_2"]], torch.nn.ReLU)
    assert isinstance(net.features[LAYERS["relu2_2"] - 1], torch.nn.Conv2d)
    assert net.features[LAYERS["relu2_2"] - 1].out_channels == 128


def test_features_are_trained_and_frozen(vgg_weights: Path) -> None:
    net = load_vgg16(("relu1_2", "relu3_3"), vgg_weights)
    out = net(torch.rand(1, 3, 32, 32))
    assert out["relu1_2"].shape == (1, 64, 32, 32) and out["relu3_3"].shape == (1, 256, 8, 8)
    assert not any(p.requires_grad for p in net.parameters())
    net.train()
    assert not net.training
    # trained conv1_1 filters are smooth: neighbouring taps correlate (random init gives ~0)
    w = net.features[0].weight.detach()
    corr = torch.corrcoef(torch.stack([w[..., :, :-1].flatten(), w[..., :, 1:].flatten()]))[0, 1]
    assert corr > 0.3


def test_missing_weights_offline_names_the_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NST_VGG_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsError, match=r"--vgg-weights.*NST_VGG_WEIGHTS"):
        resolve_weights(None, download=False)
    with pytest.raises(WeightsError, match="not found"):
        resolve_weights(tmp_path / "nope.pth")


def test_env_var_is_used(monkeypatch: pytest.MonkeyPatch, vgg_weights: Path) -> None:
    monkeypatch.setenv("NST_VGG_WEIGHTS", str(vgg_weights))
    assert resolve_weights() == vgg_weights


def test_download_hash_mismatch_is_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NST_VGG_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def fake_download(url: str, dest: Path) -> None:  # no network in tests
        Path(dest).write_bytes(b"not the real weights")

    monkeypatch.setattr(vgg_module.urllib.request, "urlretrieve", fake_download)
    with pytest.raises(WeightsError, match="sha256"):
        resolve_weights()
    assert not list(tmp_path.rglob("*.pth"))


def test_bad_weight_files(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(WeightsError, match="cannot read"):
        load_vgg16(("relu1_2",), garbage)
    wrong = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.zeros(3, 3, 3, 3)}, wrong)
    with pytest.raises(WeightsError, match="layout"):
        load_vgg16(("relu1_2",), wrong)
