"""``nst stylize --tile auto|off|ROWS --max-memory SIZE --tile-stats exact|thumbnail``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from nst.cli.main import app
from nst.runtime.stylize_job import StylizeOptions, stylize
from nst.runtime.stylizer import default_model_path
from tests.runtime.test_tiling import norm_count

PHOTO = default_model_path().with_name("sample_chelsea.jpg")


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["stylize", *args, "--no-progress"])
    return result.exit_code, result.output


def test_strips_match_one_pass_through_the_cli(tmp_path: Path) -> None:
    code, out = _run(str(PHOTO), "-o", str(tmp_path / "strips.png"), "--tile", "96", "--max-memory", "2G")
    assert code == 0, out
    code, out = _run(str(PHOTO), "-o", str(tmp_path / "one.png"), "--tile", "off")
    assert code == 0, out
    strips = np.asarray(Image.open(tmp_path / "strips.png"), np.int16)
    one = np.asarray(Image.open(tmp_path / "one.png"), np.int16)
    assert strips.shape == one.shape and int(np.abs(strips - one).max()) <= 1  # 8-bit rounding at most


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--tile", "huge"], "--tile must be auto, off or a strip height"),
        (["--tile", "8"], "--tile must be auto, off or a strip height >= 16"),
        (["--max-memory", "lots"], "--max-memory 'lots' is not a size"),
        (["--max-memory", "64M"], "--max-memory must exceed"),
        (["--tile-stats", "fast"], "--tile-stats must be exact or thumbnail, got 'fast'"),
        (
            ["--tile", "off", "--tile-stats", "thumbnail"],
            "--tile-stats applies to tiled runs, not --tile off",
        ),
        (["--tile", "off", "--max-memory", "500M"], "in one pass, over --max-memory"),
    ],
)
def test_bad_tile_flags_are_one_line_errors(tmp_path: Path, flags: list[str], message: str) -> None:
    source = tmp_path / "wide.png"
    Image.new("RGB", (2000, 1200), (120, 80, 40)).save(source)  # over SMALL_PIXELS: the budget is checked
    code, out = _run(str(source), "-o", str(tmp_path / "out.png"), *flags)
    assert code == 1 and message in out, out
    assert out.startswith("error: ") and out.count("\n") == 1
    assert not (tmp_path / "out.png").exists()


def test_options_carry_the_tile_settings(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    options = StylizeOptions((PHOTO,), target, tile=64, max_memory="2G", tile_stats="thumbnail")
    result = stylize(options)
    assert result.written == [target] and Image.open(target).size == Image.open(PHOTO).size


def test_export_tiled_writes_the_statistics_fed_variant(tmp_path: Path) -> None:
    import onnx

    target = tmp_path / "model.stats.onnx"
    code, out = _run_cmd("export-tiled", str(default_model_path()), "-o", str(target))
    assert code == 0 and "nst_in_mean_k" in out, out
    inputs = [i.name for i in onnx.load(str(target)).graph.input]
    assert inputs[0] == "image" and len(inputs) == 1 + 2 * norm_count(default_model_path())  # mean, var each
    code, out = _run_cmd("export-tiled", str(default_model_path()), "-o", str(target))
    assert code == 1 and "already exists" in out


def _run_cmd(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output
