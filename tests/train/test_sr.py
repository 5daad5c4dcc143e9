"""Super-resolution (Johnson et al. 2016): degradation, nets, tiny training, export, nst upscale."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from nst.errors import InputError, ModelError
from nst.train.models.sr import SRConfig, SRNet, degrade, gaussian_blur
from tests.conftest import tiny_train_config, train_and_export


def test_config_rejects_unsupported_scale() -> None:
    with pytest.raises(InputError, match=r"scale must be one of \(4, 8\)"):
        SRConfig(scale=3)


def test_degrade_blurs_and_downsamples() -> None:
    images = torch.rand(2, 3, 32, 40, generator=torch.Generator().manual_seed(0))
    assert degrade(images, 4).shape == (2, 3, 8, 10)
    flat = torch.full((1, 3, 16, 16), 0.25)
    assert torch.allclose(gaussian_blur(flat, 1.0), flat, atol=1e-6)
    assert gaussian_blur(images, 1.0).std() < images.std()  # blur removes variance
    with pytest.raises(InputError, match="multiples of the scale 8"):
        degrade(images[:, :, :, :36], 8)


@pytest.mark.parametrize("scale", [4, 8])
def test_output_is_scale_times_larger_at_odd_sizes(scale: int) -> None:
    net = SRNet(SRConfig(scale=scale, channels=4, num_residual=1)).eval()
    with torch.no_grad():
        out = net(torch.rand(1, 3, 9, 13))
    assert out.shape == (1, 3, 9 * scale, 13 * scale)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_task_rejects_styles_and_bad_crop_size(
    content_dir: Path, style_image: Path, vgg_weights: Path
) -> None:
    from nst.train.tasks import make_task

    with pytest.raises(InputError, match="drop --style"):
        make_task(tiny_train_config(content_dir, style_image, vgg_weights, family="sr", model={}),
                  torch.device("cpu"))  # fmt: skip
    config = tiny_train_config(content_dir, style_image, vgg_weights, family="sr", styles=(),
                               model={"scale": 8}, image_size=36)  # fmt: skip
    with pytest.raises(InputError, match="image_size 36 must be a multiple of the scale 8"):
        make_task(config, torch.device("cpu"))


def test_upscale_refuses_non_sr_models() -> None:
    from nst.runtime.upscale import check_sr_model

    runner = SimpleNamespace(metadata=SimpleNamespace(family="johnson"))
    with pytest.raises(ModelError, match="needs a super-resolution"):
        check_sr_model(runner)


@pytest.fixture(scope="module")
def sr_onnx(tmp_path_factory: pytest.TempPathFactory, content_dir: Path, style_image: Path,
            vgg_weights: Path) -> Path:  # fmt: skip
    config = tiny_train_config(
        content_dir, style_image, vgg_weights, family="sr", styles=(),
        model={"scale": 4, "channels": 4, "num_residual": 1}, steps=2, tv_weight=0.01,
    )  # fmt: skip
    result, exported = train_and_export(tmp_path_factory, "sr4", config)  # validated at odd sizes, batch 2
    assert set(result.final_losses) == {"feature", "tv", "total"}
    assert [c.shape for c in exported.checks] == [(1, 23, 37), (2, 16, 17), (1, 32, 32)]
    return exported.path


@pytest.mark.slow
def test_nst_upscale_cli(sr_onnx: Path, tmp_path: Path) -> None:
    from nst.cli.main import app

    source, target = tmp_path / "small.png", tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (11, 17, 3), dtype=np.uint8)).save(source)
    cli = CliRunner()
    result = cli.invoke(app, ["upscale", str(sr_onnx), str(source), "-o", str(target), "--providers", "cpu"])
    assert result.exit_code == 0, result.output
    assert "upscaled 17x11 -> 68x44" in result.output
    assert Image.open(target).size == (68, 44)
    again = cli.invoke(app, ["upscale", str(sr_onnx), str(source), "-o", str(target)])
    assert again.exit_code == 1
    assert "exists" in again.output


def test_only_sr_trains_without_style_images(content_dir: Path, style_image: Path, vgg_weights: Path,
                                             tmp_path: Path) -> None:  # fmt: skip
    from nst.train.loop import train

    config = tiny_train_config(content_dir, style_image, vgg_weights, styles=())  # johnson
    with pytest.raises(InputError, match="at least one style image is needed"):
        train(config, tmp_path, progress=False)
