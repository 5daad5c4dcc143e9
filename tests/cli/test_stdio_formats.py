"""``cat a.jpg | nst stylize - -o - > b.png`` and ``--output-format/--quality``."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from nst.cli.main import app
from nst.errors import InputError
from nst.jobs import output_suffix, plan_outputs
from nst.runtime.stylizer import default_model_path

PHOTO = default_model_path().with_name("sample_chelsea.jpg")


def _nst(*args: str, data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    cmd = [sys.executable, "-m", "nst.cli.main", *args]
    return subprocess.run(cmd, input=data, capture_output=True, timeout=120, check=False)


def test_stdin_to_stdout_in_the_format_asked(tmp_path: Path) -> None:
    result = _nst(
        "stylize", "-", "-o", "-", "--output-format", "jpg", "--quality", "70", data=PHOTO.read_bytes()
    )
    assert result.returncode == 0, result.stderr.decode()
    image = Image.open(io.BytesIO(result.stdout))
    assert image.format == "JPEG" and image.size == Image.open(PHOTO).size
    assert result.stderr.decode().strip().endswith("-> stdout")
    empty = _nst("stylize", "-", "-o", str(tmp_path / "o.png"))
    assert empty.returncode == 1 and b"stdin is empty" in empty.stderr


def test_output_format_names_folder_outputs_and_must_agree_with_a_file(tmp_path: Path) -> None:
    assert output_suffix("webp") == ".webp" and output_suffix(None) == ".png"
    with pytest.raises(InputError, match="unknown --output-format 'gif'"):
        output_suffix("gif")
    (job,) = plan_outputs([PHOTO], tmp_path / "out", output_format="webp")
    assert job.target == tmp_path / "out" / "sample_chelsea.webp"
    with pytest.raises(InputError, match=r"contradicts --output-format jpg"):
        plan_outputs([PHOTO], tmp_path / "o.png", output_format="jpg")
    result = CliRunner().invoke(
        app, ["stylize", str(PHOTO), "-o", str(tmp_path / "o"), "--output-format", "webp"]
    )
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "o" / "sample_chelsea.webp").format == "WEBP"


def test_stylize_json_prints_one_object_per_result(tmp_path: Path) -> None:
    import json

    second = tmp_path / "b.jpg"
    second.write_bytes(PHOTO.read_bytes())
    result = CliRunner().invoke(
        app, ["stylize", str(PHOTO), str(second), "-o", str(tmp_path / "o"), "--json"]
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert sorted(Path(r["output"]).name for r in records) == ["b.png", "sample_chelsea.png"]
    assert all(r["model"] == "default_model.onnx" and r["seconds"] >= 0 for r in records)
