"""The shipped multi-style default (nst/assets/multistyle_model.onnx): named styles, choice by
name, and ``nst sheet`` without a model (docs/MULTISTYLE_DEFAULT.md)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import nst.cli.sheet_cmd  # noqa: F401 (registers the command until cli/main.py imports it)
import nst.runtime.stylizer as stylizer_module
from nst.cli.main import app
from nst.runtime.sheet import SheetOptions, contact_sheet, default_sheet_model
from nst.runtime.stylizer import Stylizer, default_model_path

ASSETS = default_model_path().parent
MODEL = ASSETS / "multistyle_model.onnx"
STYLES = ("swirl", "mosaic", "waves", "dots", "hatching")


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:56] / 56
    rgb = np.stack([0.5 + 0.4 * np.sin(6 * xx), yy, 0.3 + 0.1 * rng.random((40, 56))], axis=2)
    path = tmp_path / "photo.png"
    Image.fromarray((rgb * 255).astype(np.uint8)).save(path)
    return path


def test_shipped_model_has_named_styles_with_provenance() -> None:
    assert MODEL.is_file() and MODEL.stat().st_size < 3_000_000
    with Stylizer(MODEL, providers="cpu") as stylizer:
        meta = stylizer.runner.metadata
    assert meta.family == "cin" and meta.styles == STYLES
    provenance = (ASSETS / "STYLE_PROVENANCE.md").read_text()
    for name in STYLES:  # every style image ships beside the model and has a provenance entry
        assert (ASSETS / f"style_{name}.png").is_file() and f"style_{name}.png" in provenance


def test_info_lists_the_styles() -> None:
    result = CliRunner().invoke(app, ["info", str(MODEL)])
    assert result.exit_code == 0, result.output
    assert "family: cin" in result.output
    assert all(name in result.output for name in STYLES)


def test_style_by_name_picks_different_outputs(photo: Path) -> None:
    rgb = np.asarray(Image.open(photo), np.float32) / 255
    with Stylizer(MODEL, providers="cpu") as stylizer:
        outputs = {name: stylizer.stylize_array(rgb, style=name) for name in STYLES}
        by_index = stylizer.stylize_array(rgb, style=1)
    np.testing.assert_array_equal(by_index, outputs["mosaic"])
    for i, a in enumerate(STYLES):
        assert outputs[a].shape == rgb.shape
        for b in STYLES[i + 1 :]:  # swirl and waves (both blue) are the closest pair, ~0.008 here
            assert np.abs(outputs[a] - outputs[b]).mean() > 0.003, (a, b)
    assert np.abs(outputs["swirl"] - outputs["dots"]).mean() > 0.05  # blue vs red


def test_sheet_without_a_model_shows_every_style(photo: Path, tmp_path: Path) -> None:
    assert default_sheet_model() == MODEL
    result = contact_sheet(SheetOptions(photo, tmp_path / "sheet.png", tile_size=16))
    assert result.labels == ("original", *STYLES) and (result.columns, result.rows) == (4, 2)
    cli = CliRunner().invoke(app, ["sheet", str(photo), "-o", str(tmp_path / "cli.jpg"), "--tile-size", "16"])
    assert cli.exit_code == 0, cli.output
    assert cli.output.startswith(f"sheet of the original + {len(STYLES)} stylized tile(s) in 4x2")


def test_sheet_falls_back_to_the_single_style_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stylizer_module, "MULTISTYLE_MODEL", "absent_model.onnx")
    assert default_sheet_model() == default_model_path()


def test_stylize_by_name_without_a_model(photo: Path, tmp_path: Path) -> None:
    outs = [tmp_path / "mosaic.png", tmp_path / "dots.png"]
    for out in outs:
        result = CliRunner().invoke(app, ["stylize", str(photo), "--style", out.stem, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert "multistyle_model.onnx" in result.output
    a, b = (np.asarray(Image.open(p), np.float32) for p in outs)
    assert a.shape == b.shape == (40, 56, 3) and np.abs(a - b).mean() > 1.0  # 8-bit levels
