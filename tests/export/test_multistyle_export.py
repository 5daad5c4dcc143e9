"""Export of the multi-style families (CIN, StyleBank) and running them with style inputs.

The checkpoints are random-initialised nets with distinct styles (no training needed: the
properties tested here hold for any weights), so this module stays fast.
"""

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from nst.cli.main import app
from nst.config import config_to_dict
from nst.errors import InputError
from nst.export.onnx_export import export_checkpoint
from nst.export.validate import validate_onnx
from nst.runtime.onnxrt.runner import OrtRunner
from nst.runtime.style_inputs import load_masks
from nst.runtime.stylizer import Stylizer
from nst.train.checkpoint import save_checkpoint
from nst.train.config import TrainConfig
from nst.train.models import build_model

STYLES = ("candy", "mosaic")
MODELS = {"cin": {"base_channels": 4, "num_residual": 1}, "stylebank": {"base_channels": 4, "bank_layers": 1}}


def _random_checkpoint(path: Path, family: str) -> Path:
    torch.manual_seed(0)
    net = build_model(family, {**MODELS[family], "num_styles": len(STYLES)})
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(("gamma", "beta")):  # CIN: make the styles differ clearly
                p.copy_(torch.rand_like(p) + 0.5 if name.endswith("gamma") else torch.randn_like(p))
    config = TrainConfig(family=family, styles=tuple(f"{s}.png" for s in STYLES), model=MODELS[family])
    save_checkpoint(path, {
        "family": family, "model_config": config_to_dict(net.config), "train_config": config_to_dict(config),
        "styles": list(STYLES), "state_dict": net.state_dict(), "step": 0,
    })  # fmt: skip
    return path


@pytest.fixture(scope="module", params=["cin", "stylebank"])
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    family = request.param
    folder = tmp_path_factory.mktemp(family)
    ckpt = _random_checkpoint(folder / "model.pt", family)
    out = folder / f"{family}.onnx"
    export_checkpoint(ckpt, out, validate=False)  # validated at small odd sizes below (faster)
    from nst.train.checkpoint import load_checkpoint, model_from_checkpoint

    return family, out, model_from_checkpoint(load_checkpoint(ckpt))


def _single(model: torch.nn.Module, image: np.ndarray, style: int) -> np.ndarray:
    """PyTorch output of one style, through the training path (one-hot (N, S) weights)."""
    x = torch.from_numpy(image)
    onehot = torch.nn.functional.one_hot(torch.full((x.shape[0],), style), len(STYLES)).float()
    with torch.no_grad():
        if hasattr(model, "stylize_map"):
            return model.stylize_map(x, onehot[:, :, None, None]).numpy()
        return model(x, onehot).numpy()


def test_matches_pytorch_at_odd_sizes_with_dynamic_axes(exported: tuple) -> None:
    family, path, model = exported
    checks = validate_onnx(model, path, model.export_spec(), sizes=((1, 37, 53), (2, 21, 30)), seed=3)
    assert all(c.max_abs_diff < 1e-4 for c in checks)
    inputs = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
              for i in onnx.load(str(path)).graph.input}  # fmt: skip
    assert inputs["image"] == ["batch", 3, "height", "width"]
    assert inputs["style_weights"] == [2]
    if family == "stylebank":
        assert inputs["style_masks"] == ["batch", 2, "mask_height", "mask_width"]


def test_interpolation_is_real(exported: tuple) -> None:
    _, path, model = exported
    image = np.random.default_rng(0).random((1, 3, 29, 35), dtype=np.float32)
    a, b = _single(model, image, 0), _single(model, image, 1)
    with Stylizer(path, providers="cpu") as s:
        w10 = s.stylize_batch(image, s.extra_inputs(style_weights=[1.0, 0.0]))
        w01 = s.stylize_batch(image, s.extra_inputs(style_weights=[0.0, 1.0]))
        half = s.stylize_batch(image, s.extra_inputs(style_weights=[0.5, 0.5]))
    np.testing.assert_allclose(w10, a, atol=1e-5)
    np.testing.assert_allclose(w01, b, atol=1e-5)
    assert np.abs(half - a).mean() > 1e-2 and np.abs(half - b).mean() > 1e-2


@pytest.mark.parametrize("mask_width", [96, 24])  # at the image's resolution and 4x coarser
def test_region_fusion_halves_match_single_styles(exported: tuple, mask_width: int) -> None:
    family, path, model = exported
    if family != "stylebank":
        pytest.skip("region fusion is a StyleBank input")
    image = np.random.default_rng(1).random((1, 3, 37, 96), dtype=np.float32)
    masks = np.zeros((2, 9, mask_width), np.float32)
    masks[0, :, : mask_width // 2] = 1  # left half: style 0, right half: style 1
    masks[1, :, mask_width // 2 :] = 1
    with Stylizer(path, providers="cpu", masks=masks) as s:
        fused = s.stylize_batch(image)
    a, b = _single(model, image, 0), _single(model, image, 1)
    margin = 20  # decoder receptive field (~12 px) + mask upsampling blur
    np.testing.assert_allclose(fused[..., : 48 - margin], a[..., : 48 - margin], atol=1e-5)
    np.testing.assert_allclose(fused[..., 48 + margin :], b[..., 48 + margin :], atol=1e-5)
    assert np.abs(fused - a).mean() > 1e-3 and np.abs(fused - b).mean() > 1e-3


def test_styles_by_name_index_and_clear_errors(exported: tuple) -> None:
    family, path, _ = exported
    image = np.random.default_rng(2).random((20, 24, 3), dtype=np.float32)
    with Stylizer(path, providers="cpu") as s:
        with pytest.raises(InputError, match="choose one with --style"):
            s.stylize_array(image)
        by_name = s.stylize_array(image, style="mosaic")
        np.testing.assert_allclose(by_name, s.stylize_array(image, style=1), atol=1e-6)
        np.testing.assert_allclose(by_name, s.stylize_array(image, style_weights=[0, 1]), atol=1e-6)
        with pytest.raises(InputError, match="did you mean 'mosaic'"):
            s.stylize_array(image, style="mosiac")
        with pytest.raises(InputError, match="out of range"):
            s.stylize_array(image, style=2)
        with pytest.raises(InputError, match="not both"):
            s.stylize_array(image, style=0, style_weights=[1, 0])
        with pytest.raises(InputError, match="need 2 values"):
            s.stylize_array(image, style_weights=[1.0])
    runner = OrtRunner(path, providers="cpu")
    feed = {"image": np.zeros((1, 3, 16, 16), np.float32), "style_weights": np.array([0.7, 0.7], np.float32)}
    if family == "stylebank":
        feed["style_masks"] = np.full((1, 2, 16, 16), 0.5, np.float32)
    with pytest.raises(InputError, match="must sum to 1"):
        runner.infer(feed)
    feed["style_weights"] = np.array([1.2, -0.2], np.float32)
    with pytest.raises(InputError, match="non-negative"):
        runner.infer(feed)
    if family == "stylebank":
        feed["style_weights"] = np.array([0.5, 0.5], np.float32)
        feed["style_masks"][:, :, 3, 3] = 0.9
        with pytest.raises(InputError, match="at every pixel"):
            runner.infer(feed)
    else:
        with pytest.raises(InputError, match="needs a stylebank model"):
            Stylizer(path, providers="cpu", masks=np.ones((2, 16, 16), np.float32))


def test_masks_from_label_image_and_grayscale_files(tmp_path: Path) -> None:
    label = np.zeros((10, 12, 3), np.uint8)
    label[:, 6:] = (255, 0, 0)  # black -> style 0, red -> style 1 (ascending 0xRRGGBB)
    Image.fromarray(label).save(tmp_path / "label.png")
    masks = load_masks([tmp_path / "label.png"], 3)
    assert masks.shape == (3, 10, 12) and masks[0, :, :6].min() == 1 and masks[1, :, 6:].min() == 1
    assert masks[2].max() == 0
    with pytest.raises(InputError, match="2 colours but the model has 1 styles"):
        load_masks([tmp_path / "label.png"], 1)
    for i, value in enumerate((255, 85)):
        Image.fromarray(np.full((8, 8), value, np.uint8)).save(tmp_path / f"g{i}.png")
    gray = load_masks([tmp_path / "g0.png", tmp_path / "g1.png"], 2)
    np.testing.assert_allclose(gray[:, 0, 0], [0.75, 0.25], atol=1e-6)
    with pytest.raises(InputError, match="model has 3 styles"):
        load_masks([tmp_path / "g0.png", tmp_path / "g1.png"], 3)


def test_cli_style_options(exported: tuple, tmp_path: Path) -> None:
    family, path, _ = exported
    src = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (24, 40, 3), np.uint8)).save(src)
    cli = CliRunner()
    result = cli.invoke(app, ["stylize", str(path), str(src), "-o", str(tmp_path / "none.png")])
    assert result.exit_code == 1 and "--style NAME|INDEX" in result.output
    assert result.output.count("\n") == 1 and not (tmp_path / "none.png").exists()
    for i, extra in enumerate((["--style", "candy"], ["--style", "1"], ["--style-weights", "0.3,0.7"])):
        result = cli.invoke(app, ["stylize", str(path), str(src), "-o", str(tmp_path / f"o{i}.png"), *extra])
        assert result.exit_code == 0, result.output
    result = cli.invoke(app, ["stylize", str(path), str(src), "-o", str(tmp_path / "w.png"),
                              "--style-weights", "0.3,x"])  # fmt: skip
    assert result.exit_code == 1 and "comma-separated numbers" in result.output
    label = np.zeros((12, 20, 3), np.uint8)
    label[:, 10:] = 255
    Image.fromarray(label).save(tmp_path / "regions.png")
    result = cli.invoke(app, ["stylize", str(path), str(src), "-o", str(tmp_path / "m.png"),
                              "--mask", str(tmp_path / "regions.png")])  # fmt: skip
    if family == "stylebank":
        assert result.exit_code == 0, result.output
        assert Image.open(tmp_path / "m.png").size == (40, 24)
    else:
        assert result.exit_code == 1 and "--mask needs a stylebank model" in result.output
