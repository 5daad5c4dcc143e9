"""``nst serve`` as a user runs it: a real process on 127.0.0.1, stopped with SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import nst.cli.serve_cmd  # noqa: F401  (registers `serve` until cli/main.py imports it)
from nst.cli.main import app
from tests.serve.conftest import encoded

REPO = Path(__file__).resolve().parents[2]
NST = [sys.executable, "-c", "import nst.cli.serve_cmd; from nst.cli.main import app; app()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"nst serve exited with {process.returncode}: {process.communicate()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("nst serve did not become ready")


def test_serve_runs_until_sigterm_and_says_what_it_served(model_files: dict[str, Path]) -> None:
    port = free_port()
    cmd = [*NST, "serve", str(model_files["tiny"]), "--model", f"mix={model_files['mix']}",
           "--port", str(port), "--max-batch", "2", "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        names = [m["name"] for m in httpx.get(f"{url}/v1/models").json()["models"]]
        files = {"image": ("p.png", encoded(20, 20), "image/png")}
        answer = httpx.post(f"{url}/v1/stylize", params={"model": "mix", "style": "blue"}, files=files)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert names == ["tiny", "mix"]
    assert answer.status_code == 200
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert lines[0] == f"serving tiny, mix on http://127.0.0.1:{port} (max batch 2, queue 64)"
    assert lines[-1].startswith("served 1 stylize requests with tiny, mix in ")


@pytest.mark.parametrize(
    ("args", "message"),
    [(["missing.onnx"], "error: model file not found: missing.onnx"),
     (["--model", "nameless.onnx"], "error: --model expects NAME=PATH"),
     (["--max-batch", "0"], "error: --max-batch must be > 0")],
)  # fmt: skip
def test_serve_refuses_bad_arguments_in_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["serve", *args])
    assert result.exit_code == 1
    assert result.output.strip() == message or result.output.startswith(message), result.output
