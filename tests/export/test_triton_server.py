"""The python-backend repository of ``nst export-triton`` served by a real Triton Inference Server.

``scripts/setup_triton.sh`` puts ``tritonserver`` 2.51 (from the nvidia-pytriton wheel, python
backend only) and the backend's own venv (numpy < 2, onnxruntime) into ``build/triton``. Here
the server runs on free loopback ports with a repository of three tiny real ONNX models
(single-style, multi-style, style-swap) and the working tree's nst on its PYTHONPATH; its
answers over gRPC (tritonclient) and HTTP (the KServe v2 JSON protocol, plain httpx) must
equal the local Runner's. Skipped only where build/triton is absent, and a failure in CI.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from nst.export.triton import TritonOptions, export_triton
from nst.runtime.registry import open_runner
from tests.serve.models import served_models

pytestmark = pytest.mark.triton

REPO = Path(__file__).resolve().parents[2]
TRITON = REPO / "build" / "triton"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
BATCH_WAIT_US = 300_000  # the dynamic batcher waits this long to fill a batch (batching test)


def _setup() -> dict[str, str]:
    env_file = TRITON / "env.json"
    if not env_file.is_file():
        reason = f"no Triton server set up in {TRITON}: run scripts/setup_triton.sh (make does)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    pytest.importorskip("tritonclient.grpc", reason="the tests' client is tritonclient[grpc]")
    return dict(json.loads(env_file.read_text(encoding="utf-8")))


@dataclass
class Server:
    """A running ``tritonserver``: its URLs, process and log."""

    http: str
    grpc: str
    process: subprocess.Popen[bytes]
    log: Path
    stop_seconds: float | None = None

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _nst_tree(dest: Path) -> Path:
    """The working tree's nst laid out as installed (scripts/lint_imports.py's ``build_tree``)."""
    spec = importlib.util.spec_from_file_location("lint_imports", REPO / "scripts" / "lint_imports.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Path(module.build_tree(dest))


@contextlib.contextmanager
def running_triton(setup: dict[str, str], repository: Path, work: Path) -> Iterator[Server]:
    """``tritonserver`` on 127.0.0.1 (HTTP + gRPC, no metrics port); stopped with SIGTERM, bounded."""
    import tritonclient.grpc as grpcclient

    http, grpc = _free_port(), _free_port()
    env = {
        **os.environ,
        "PATH": setup["python_bin"] + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": str(_nst_tree(work / "tree")),
        "LD_LIBRARY_PATH": os.pathsep.join(
            filter(None, [setup["python_libdir"], os.environ.get("LD_LIBRARY_PATH")])
        ),
        "OMP_NUM_THREADS": "1",
    }
    cmd = [setup["tritonserver"], f"--model-repository={repository}",
           f"--backend-directory={setup['backend_directory']}",
           "--http-address=127.0.0.1", f"--http-port={http}",
           "--grpc-address=127.0.0.1", f"--grpc-port={grpc}",
           "--allow-metrics=false", "--allow-gpu-metrics=false",
           "--exit-timeout-secs=5", "--log-verbose=0"]  # fmt: skip
    log = work / "tritonserver.log"
    with log.open("wb") as out:  # cwd: not the repo, whose nst/ folder would shadow the tree
        process = subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{http}", f"127.0.0.1:{grpc}", process, log)
    try:
        client = grpcclient.InferenceServerClient(server.grpc)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"tritonserver exited with {process.returncode}:\n{server.log_tail()}")
            with contextlib.suppress(Exception):
                if client.is_server_ready():
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"tritonserver not ready after {START_TIMEOUT_S:.0f}s:\n{server.log_tail()}")
            time.sleep(0.25)
        client.close()
        yield server
    finally:
        start = time.monotonic()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        server.stop_seconds = time.monotonic() - start


@pytest.fixture(scope="module")
def setup() -> dict[str, str]:
    return _setup()


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("triton_models")
    return served_models(folder)


@pytest.fixture(scope="module")
def server(setup: dict[str, str], model_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:  # fmt: skip
    work = tmp_path_factory.mktemp("triton")
    options = TritonOptions(
        models=model_files, output=work / "model_repository", backend="python", instance_kind="cpu",
        threads=1, max_batch_size=4, max_queue_delay_us=BATCH_WAIT_US,
    )  # fmt: skip
    export_triton(options)
    with running_triton(setup, options.output, work) as running:
        yield running
    assert running.stop_seconds is not None and running.stop_seconds < STOP_TIMEOUT_S, running.log_tail()
    assert running.process.returncode == 0, running.log_tail()


def local(model: Path, feed: dict[str, np.ndarray]) -> np.ndarray:
    with open_runner(model, providers="cpu", threads=1) as runner:
        if "strength" in {t.name for t in runner.spec.inputs} and "strength" not in feed:
            feed = {**feed, "strength": np.ones(1, np.float32)}  # optional in Triton: fed 1 there
        return runner.infer(feed)["stylized"]


def infer_grpc(url: str, model: str, feed: dict[str, np.ndarray]) -> np.ndarray:
    import tritonclient.grpc as grpcclient

    inputs = []
    for name, array in feed.items():
        tensor = grpcclient.InferInput(name, list(array.shape), "FP32")
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    with grpcclient.InferenceServerClient(url) as client:
        return client.infer(model, inputs).as_numpy("stylized")


def feeds(rng: np.random.Generator, model: str, batch: int, height: int, width: int) -> dict[str, np.ndarray]:
    feed = {"image": rng.random((batch, 3, height, width), dtype=np.float32)}
    if model == "mix":
        feed["style_weights"] = np.array([0.3, 0.7], np.float32)
    if model == "swap":
        feed["style"] = rng.random((1, 3, 41, 29), dtype=np.float32)
    return feed


def test_server_loaded_the_generated_configs(server: Server) -> None:
    import httpx

    tiny = httpx.get(f"{server.http}/v2/models/tiny/config", timeout=10).json()
    assert (tiny["backend"], tiny["max_batch_size"]) == ("python", 4)
    assert [(t["name"], t["data_type"], t["dims"]) for t in tiny["input"]] == [
        ("image", "TYPE_FP32", [3, -1, -1])
    ]
    mix = httpx.get(f"{server.http}/v2/models/mix/config", timeout=10).json()
    assert mix["max_batch_size"] == 0 and [t["name"] for t in mix["input"]] == ["image", "style_weights"]
    for model in ("tiny", "mix", "swap"):
        assert httpx.get(f"{server.http}/v2/models/{model}/ready", timeout=10).status_code == 200


@pytest.mark.parametrize("model", ["tiny", "mix", "swap"])
def test_grpc_matches_the_local_runner(server: Server, model_files: dict[str, Path], model: str) -> None:
    rng = np.random.default_rng(1)
    for batch, height, width in ((1, 37, 53), (2, 64, 48), (1, 97, 131)):  # odd sizes included
        feed = feeds(rng, model, batch, height, width)
        out = infer_grpc(server.grpc, model, feed)
        assert out.shape == (batch, 3, height, width) and out.dtype == np.float32
        assert float(np.abs(out - local(model_files[model], feed)).max()) <= 1e-6
        if model == "swap":  # its optional strength input, given
            feed["strength"] = np.full(1, 0.25, np.float32)
            out = infer_grpc(server.grpc, model, feed)
            assert float(np.abs(out - local(model_files[model], feed)).max()) <= 1e-6


def test_http_json_protocol_matches_the_local_runner(server: Server, model_files: dict[str, Path]) -> None:
    """The plain KServe v2 JSON protocol (what a client in any language sends), at an odd size."""
    import httpx

    feed = feeds(np.random.default_rng(2), "mix", 1, 19, 23)
    body = {"inputs": [{"name": n, "shape": list(a.shape), "datatype": "FP32", "data": a.ravel().tolist()}
                       for n, a in feed.items()]}  # fmt: skip
    answer = httpx.post(f"{server.http}/v2/models/mix/infer", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    (output,) = answer.json()["outputs"]
    assert (output["name"], output["shape"]) == ("stylized", [1, 3, 19, 23])
    out = np.asarray(output["data"], np.float32).reshape(output["shape"])
    assert float(np.abs(out - local(model_files["mix"], feed)).max()) <= 1e-6


def test_dynamic_batching_joins_requests_and_splits_the_answers(
    server: Server, model_files: dict[str, Path]
) -> None:
    """Same-shape requests sent at once run as one batch in model.py and each gets its own answer."""
    import tritonclient.grpc as grpcclient

    rng = np.random.default_rng(3)
    sent = [feeds(rng, "tiny", 1, 33, 47) for _ in range(4)]
    results: dict[int, np.ndarray] = {}
    barrier = threading.Barrier(len(sent))

    def send(i: int) -> None:  # one client per thread
        barrier.wait()
        results[i] = infer_grpc(server.grpc, "tiny", sent[i])

    with grpcclient.InferenceServerClient(server.grpc) as client:
        before = client.get_inference_statistics("tiny").model_stats[0]
        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(sent))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        deadline = time.monotonic() + 10  # statistics land just after the responses are sent
        after = client.get_inference_statistics("tiny").model_stats[0]
        while after.inference_count - before.inference_count < len(sent) and time.monotonic() < deadline:
            time.sleep(0.05)
            after = client.get_inference_statistics("tiny").model_stats[0]
    for i, feed in enumerate(sent):
        assert float(np.abs(results[i] - local(model_files["tiny"], feed)).max()) <= 1e-6
    inferences = after.inference_count - before.inference_count
    executions = after.execution_count - before.execution_count
    assert inferences == 4 and executions < inferences, (inferences, executions)


def test_bad_requests_get_errors_and_the_server_stays_up(
    server: Server, model_files: dict[str, Path]
) -> None:
    import httpx
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    rng = np.random.default_rng(4)
    bad = {
        "tiny": ({"image": rng.random((1, 3, 8, 8), dtype=np.float32)}, "image 8x8 is too small"),
        "mix": ({**feeds(rng, "mix", 1, 20, 20), "style_weights": np.array([0.9, 0.9], np.float32)},
                "style_weights must sum to 1"),
        "swap": ({"image": rng.random((1, 3, 20, 20), dtype=np.float32)}, "style"),  # Triton: missing input
    }  # fmt: skip
    for model, (feed, message) in bad.items():
        with pytest.raises(InferenceServerException, match=message):
            infer_grpc(server.grpc, model, feed)
    with pytest.raises(InferenceServerException, match="unexpected shape"):
        infer_grpc(server.grpc, "tiny", {"image": rng.random((1, 4, 20, 20), dtype=np.float32)})
    with pytest.raises(InferenceServerException, match="nosuch"):
        infer_grpc(server.grpc, "nosuch", {"image": rng.random((1, 3, 20, 20), dtype=np.float32)})
    small = {"inputs": [{"name": "image", "shape": [1, 3, 8, 8], "datatype": "FP32", "data": [0.5] * 192}]}
    answer = httpx.post(f"{server.http}/v2/models/tiny/infer", json=small, timeout=10)
    assert answer.status_code == 400 and "image 8x8 is too small" in answer.json()["error"]
    answer = httpx.post(f"{server.http}/v2/models/tiny/infer", content=b"{not json", timeout=10)
    assert answer.status_code >= 400 and "error" in answer.json()  # Triton answers 500 here
    with grpcclient.InferenceServerClient(server.grpc) as client:
        assert client.is_server_live() and client.is_model_ready("tiny")
    feed = feeds(rng, "tiny", 1, 21, 17)
    assert (
        float(np.abs(infer_grpc(server.grpc, "tiny", feed) - local(model_files["tiny"], feed)).max()) <= 1e-6
    )
