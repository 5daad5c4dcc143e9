"""Pixel methods (``nst stylize --method optimize|gatys``): ``pixel_stylize``, style-swap's optimisation."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from nst.cli.main import app
from nst.errors import InputError, OutputExistsError
from nst.train.pixel import PixelOptions, pixel_stylize, run_swap_optimize

cli = CliRunner()


def _photo(path: Path, height: int, width: int, seed: int = 0) -> Path:
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (height, width, 3), np.uint8)).save(path)
    return path


def test_optimize_keeps_odd_sizes_and_alpha(style_image: Path, vgg_weights: Path, tmp_path: Path) -> None:
    src = _photo(tmp_path / "photo.png", 37, 45)
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (21, 26, 4), np.uint8), "RGBA").save(rgba)
    out = tmp_path / "out"
    written = run_swap_optimize(
        [src, rgba], out, style_image, iters=2, style_side=32, vgg_weights=vgg_weights, progress=False
    )
    assert sorted(p.name for p in written) == ["photo.png", "rgba.png"]
    assert Image.open(out / "photo.png").size == (45, 37)
    result = Image.open(out / "rgba.png")
    assert result.size == (26, 21) and result.mode == "RGBA"
    original = np.asarray(Image.open(src), np.float32)
    assert np.abs(np.asarray(Image.open(out / "photo.png"), np.float32) - original).mean() > 1.0
    with pytest.raises(OutputExistsError, match="use --force to overwrite"):
        run_swap_optimize(
            [src], out / "photo.png", style_image, iters=1, vgg_weights=vgg_weights, progress=False
        )


def test_optimize_errors(style_image: Path, vgg_weights: Path, tmp_path: Path) -> None:
    src = _photo(tmp_path / "tiny.png", 12, 40)
    with pytest.raises(InputError, match=r"--method optimize needs a style image: --style-image S\.jpg"):
        run_swap_optimize([src], tmp_path / "o.png", None)
    with pytest.raises(InputError, match="--iters must be >= 1, got 0"):
        run_swap_optimize([src], tmp_path / "o.png", style_image, iters=0)
    with pytest.raises(InputError, match="tv_weight must be finite and >= 0"):
        run_swap_optimize([src], tmp_path / "o.png", style_image, tv_weight=-1.0)
    big = _photo(tmp_path / "big.png", 20, 20)
    with pytest.raises(InputError, match=r"tiny\.png is 40x12; --method optimize needs both sides >= 16"):
        run_swap_optimize([big, src], tmp_path / "out", style_image, iters=1, vgg_weights=vgg_weights)
    assert not (tmp_path / "out").exists()  # refused before the first photo was optimised
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize(
    ("method", "style", "style_image", "message"),
    [
        (
            "optimize",
            "s.png",
            "s.png",
            "--method optimize takes its style image as --style-image S.jpg, not --style",
        ),
        (
            "gatys",
            "s.png",
            "s.png",
            "--method gatys takes its style image as --style S.jpg, not --style-image",
        ),
        ("feedforward", None, None, "not a pixel method: 'feedforward' (choose from gatys, optimize)"),
    ],
)
def test_pixel_cli_refuses_the_other_methods_style_option(
    method: str, style: str | None, style_image: str | None, message: str, tmp_path: Path
) -> None:
    src = _photo(tmp_path / "p.png", 20, 20)
    with pytest.raises(InputError) as info:
        options = PixelOptions(method, (src,), tmp_path / "o.png", iters=1, progress=False,
                               style=None if style is None else Path(style),
                               style_image=None if style_image is None else Path(style_image))  # fmt: skip
        pixel_stylize(options)
    assert str(info.value) == message


def test_stylize_method_optimize_cli(style_image: Path, vgg_weights: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("NST_VGG_WEIGHTS", str(vgg_weights))
    src = _photo(tmp_path / "photo.png", 33, 27)
    args = ["stylize", "--method", "optimize", "--style-image", str(style_image), str(src), "-o",
            str(tmp_path / "o.png"), "--iters", "1", "--no-progress"]  # fmt: skip
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("stylized 1 image(s) with style-swap L-BFGS (1 it)")
    assert Image.open(tmp_path / "o.png").size == (27, 33)
    result = cli.invoke(app, ["stylize", "--method", "optimize", "--style-image", str(style_image), "m.onnx",
                              str(src), "-o", str(tmp_path / "x.png")])  # fmt: skip
    assert result.exit_code == 1 and "--method optimize optimises pixels and takes no model" in result.output


def test_model_only_flags_are_refused_for_pixel_methods(style_image: Path, tmp_path: Path) -> None:
    src = _photo(tmp_path / "p.png", 20, 20)
    args = ["stylize", "--method", "optimize", "--style-image", str(style_image), str(src), "-o",
            str(tmp_path / "o.png"), "--providers", "cuda", "--batch-size", "2"]  # fmt: skip
    result = cli.invoke(app, args)
    assert result.exit_code == 1
    assert "--providers, --batch-size apply to models, not --method optimize" in result.output
