from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from nst.cli.eval_cmd import parse_iters
from nst.cli.main import app
from nst.cli.stylize_cmd import check_method
from nst.errors import InputError, OutputExistsError
from nst.train.pixel import run_gatys_stylize

cli = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = cli.invoke(app, list(args))
    return result.exit_code, result.output


def test_eval_command_writes_report_and_refuses_to_overwrite(
    tiny_onnx: Path, content_dir: Path, style_image: Path, vgg_weights: Path, tmp_path: Path
) -> None:
    out = tmp_path / "quality"
    args = ["eval", str(tiny_onnx), "--content", str(content_dir), "--style", str(style_image),
            "--size", "32", "--iters", "1,2", "--limit", "1", "-o", str(out),
            "--vgg-weights", str(vgg_weights), "--no-progress"]  # fmt: skip
    code, text = run(*args)
    assert code == 0, text
    assert text.startswith("evaluated tiny.onnx on 1 photo(s): model loss ") and text.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == ["grid.png", "report.json", "report.md"]
    code, text = run(*args)
    assert code == 1 and text.strip().endswith("report.json already exists; use --force to overwrite")


@pytest.mark.parametrize("text", ["a,b", "0,5", ",", "-3"])
def test_bad_iters_are_input_errors(text: str) -> None:
    with pytest.raises(InputError, match="--iters expects comma-separated positive integers"):
        parse_iters(text)


def test_parse_iters() -> None:
    assert parse_iters("50,100, 300") == [50, 100, 300]


def test_eval_command_reports_a_missing_model(tmp_path: Path) -> None:
    code, text = run("eval", str(tmp_path / "none.onnx"), "--content", str(tmp_path), "--style",
                     str(tmp_path / "s.png"), "-o", str(tmp_path / "q"))  # fmt: skip
    assert code == 1 and "model file not found" in text


def test_gatys_path_stylizes_a_file(style_image: Path, vgg_weights: Path, tmp_path: Path) -> None:
    src, out = tmp_path / "photo.png", tmp_path / "out.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 50, 3), np.uint8)).save(src)
    written = run_gatys_stylize([src], out, style_image, iters=2, vgg_weights=vgg_weights, progress=False)
    assert written == [out] and Image.open(out).size == (50, 40)
    with pytest.raises(OutputExistsError, match="use --force to overwrite"):
        run_gatys_stylize([src], out, style_image, iters=2, vgg_weights=vgg_weights, progress=False)
    small = run_gatys_stylize([src], tmp_path / "small.png", style_image, iters=1, size=20,
                              vgg_weights=vgg_weights, progress=False)  # fmt: skip
    assert Image.open(small[0]).size == (25, 20)


def test_gatys_path_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"--method gatys needs a style image: --style S\.jpg"):
        run_gatys_stylize([tmp_path], tmp_path / "o.png", None)
    with pytest.raises(InputError, match="iterations must be >= 1, got 0"):
        run_gatys_stylize([tmp_path], tmp_path / "o.png", tmp_path / "s.png", iters=0)
    with pytest.raises(InputError, match=r"unknown --method 'gatsy'; did you mean 'gatys'\?"):
        check_method("gatsy")
    assert check_method("feedforward") == "feedforward"


def test_stylize_method_gatys(style_image: Path, vgg_weights: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("NST_VGG_WEIGHTS", str(vgg_weights))
    src = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (36, 44, 3), np.uint8)).save(src)
    code, text = run("stylize", "--method", "gatys", "--style", str(style_image), str(src), "-o",
                     str(tmp_path / "g.png"), "--iters", "1", "--no-progress")  # fmt: skip
    assert code == 0, text
    assert text.startswith("stylized 1 image(s) with Gatys L-BFGS (1 it)") and text.count("\n") == 1
    assert Image.open(tmp_path / "g.png").size == (44, 36)
    code, text = run("stylize", "--method", "gatsy", str(src), "-o", str(tmp_path / "x.png"))
    assert code == 1 and "unknown --method 'gatsy'; did you mean 'gatys'?" in text
    code, text = run("stylize", "--method", "gatys", "--style", str(style_image), str(tmp_path / "m.onnx"),
                     str(src), "-o", str(tmp_path / "x.png"))  # fmt: skip
    assert code == 1 and "takes no model" in text
