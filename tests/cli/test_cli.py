import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from nst.cli.main import app
from nst.export.validate import validate_onnx
from nst.train.checkpoint import load_checkpoint, model_from_checkpoint
from nst.train.models.johnson import JohnsonConfig, JohnsonNet

cli = CliRunner()
JOHNSON_SPEC = JohnsonNet(JohnsonConfig(4, 1)).export_spec()


def run(*args: str) -> tuple[int, str]:
    result = cli.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.mark.slow
def test_train_export_stylize_end_to_end(tmp_path: Path, content_dir: Path, style_image: Path,
                                         vgg_weights: Path) -> None:  # fmt: skip
    run_dir, model, out = tmp_path / "run", tmp_path / "model.onnx", tmp_path / "styled"
    code, text = run("train", "--style", str(style_image), "--content", str(content_dir), "-o", str(run_dir),
                     "--model", "base_channels=4", "--model", "num_residual=1", "--steps", "200",
                     "--batch-size", "2", "--image-size", "32", "--style-size", "48", "--device", "cpu",
                     "--sample-every", "100", "--checkpoint-every", "100", "--vgg-weights", str(vgg_weights),
                     "--no-progress", "--lr", "0.01")  # fmt: skip
    assert code == 0, text
    assert text.startswith("trained johnson for 200 steps")
    history = load_checkpoint(run_dir / "checkpoint.pt")["history"]
    assert history["total"][-1] < history["total"][0]

    code, text = run("export", str(run_dir / "checkpoint.pt"), "-o", str(model))
    assert code == 0, text
    assert "1x97x131" in text and text.count("\n") == 1
    torch_model = model_from_checkpoint(load_checkpoint(run_dir / "checkpoint.pt"))
    checks = validate_onnx(torch_model, model, JOHNSON_SPEC, sizes=((1, 97, 131), (1, 333, 517)))
    assert all(c.max_abs_diff < 1e-4 for c in checks)

    code, text = run("stylize", str(model), str(content_dir), "-o", str(out), "--no-progress")
    assert code == 0, text
    assert len(list(out.glob("*.png"))) == 20 and "stylized 20 image(s)" in text

    code, text = run("info", str(model), "--json")
    assert code == 0 and json.loads(text)["styles"] == ["stripes"]


def test_stylize_with_bundled_model_single_file(tmp_path: Path) -> None:
    src = tmp_path / "photo.jpg"
    Image.fromarray(np.random.randint(0, 255, (41, 63, 3), np.uint8)).save(src)
    code, text = run("stylize", str(src), "-o", str(tmp_path / "out.png"))
    assert code == 0, text
    assert Image.open(tmp_path / "out.png").size == (63, 41)
    code, text = run("stylize", str(src), "-o", str(tmp_path / "out.png"))
    assert code == 1 and text.strip().endswith("use --force to overwrite")
    assert run("stylize", str(src), "-o", str(tmp_path / "out.png"), "--force")[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stylize", "{tmp}/missing.jpg", "-o", "{tmp}/o.png"], "missing.jpg"),
        (["stylize", "{tmp}/bad.jpg", "-o", "{tmp}/o.png"], "bad.jpg"),
        (["stylize", "{tmp}/tiny.png", "-o", "{tmp}/o.png"], "too small"),
        (["stylize", "{tmp}/missing.onnx", "{tmp}/tiny.png", "-o", "{tmp}/o.png"], "model file not found"),
        (["export", "{tmp}/none.pt", "-o", "{tmp}/o.onnx"], "checkpoint not found"),
        (["info", "{tmp}/bad.jpg"], "cannot load model"),
        (["bench", "--size", "huge", "--out-dir", "{tmp}"], "unknown bench size"),
        (["bench", "--min-runs", "0", "--out-dir", "{tmp}"], "--min-runs must be >= 1 and --device >= 0"),
        (
            ["train", "--style", "{tmp}/tiny.png", "--content", "{tmp}", "-o", "{tmp}/r", "--model", "x"],
            "KEY=VALUE",
        ),
    ],
)
def test_errors_are_one_line_and_exit_1(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "tiny.png")
    code, text = run(*[a.format(tmp=tmp_path) for a in args])
    assert code == 1, text
    assert text.startswith("error: ") and message in text and text.count("\n") == 1
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "o.onnx").exists()


def test_import_and_help_do_not_import_torch() -> None:
    code = "import sys, nst, nst.cli.main; assert 'torch' not in sys.modules and 'onnx' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "nst.cli.main", "--help"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert "stylize" in out.stdout
    assert not {m for m in imported if m.split(".")[0] in ("torch", "onnx", "tensorrt", "pycuda")}
