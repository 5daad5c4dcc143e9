"""Batching, the bounded queue (503), timeouts (504), failures and graceful shutdown, on a real server."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from pathlib import Path

import httpx
import pytest

from nst.errors import ModelError
from nst.serve.app import create_app
from nst.serve.options import ServeOptions
from nst.serve.server import running_server
from tests.serve.conftest import decoded, encoded, open_models, serving
from tests.serve.models import RecordingRunner


def post_all(
    url: str, bodies: list[tuple[bytes, dict[str, str]]], timeout: float = 20
) -> list[httpx.Response]:
    """Send every ``(image, params)`` at once, one connection each; answers in order."""

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(bodies))
        async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
            return await asyncio.gather(*(
                client.post("/v1/stylize", params=params, files={"image": ("p.png", data, "image/png")})
                for data, params in bodies
            ))  # fmt: skip

    return asyncio.run(run())


def recording(model_files: dict[str, Path], name: str = "tiny", **kwargs: object) -> RecordingRunner:
    return RecordingRunner(open_models({name: model_files[name]})[name], **kwargs)  # type: ignore[arg-type]


def test_same_size_requests_share_one_infer_call(model_files: dict[str, Path]) -> None:
    runner = recording(model_files)
    options = ServeOptions(max_batch=4, batch_wait_ms=3000, warmup=False)  # a full batch runs at once
    with serving(options, {"tiny": runner}) as url:
        answers = post_all(url, [(encoded(32, 32, seed=i), {}) for i in range(4)])
        metrics = httpx.get(f"{url}/metrics").text
    assert [r.status_code for r in answers] == [200] * 4
    assert runner.batches == [4]
    assert re.search(r'nst_serve_batch_size_bucket\{model="tiny",le="4.0"\} 1\n', metrics)
    assert re.search(r'nst_serve_batch_size_bucket\{model="tiny",le="3.0"\} 0\n', metrics)
    assert all(decoded(r.content).size == (32, 32) for r in answers)


def test_only_equal_sizes_and_styles_batch_together(model_files: dict[str, Path]) -> None:
    runner = recording(model_files, "mix")
    options = ServeOptions(max_batch=2, batch_wait_ms=1000, warmup=False)
    red, blue = {"style": "red"}, {"style": "blue"}
    bodies = [(encoded(32, 32), red), (encoded(32, 32), red), (encoded(40, 24), red), (encoded(32, 32), blue)]
    with serving(options, {"mix": runner}) as url:
        answers = post_all(url, bodies)
    assert [r.status_code for r in answers] == [200] * 4
    assert sorted(runner.batches) == [1, 1, 2]
    assert [decoded(r.content).size for r in answers] == [(32, 32), (32, 32), (40, 24), (32, 32)]


def test_full_queue_answers_503_with_retry_after(model_files: dict[str, Path]) -> None:
    runner = recording(model_files, delay=1.0)
    options = ServeOptions(max_batch=1, batch_wait_ms=0, queue_size=1, retry_after_s=2, warmup=False)
    with serving(options, {"tiny": runner}) as url:
        answers = post_all(url, [(encoded(20, 20), {}) for _ in range(6)])
        after = httpx.post(f"{url}/v1/stylize", files={"image": ("p.png", encoded(20, 20), "image/png")})
    statuses = [r.status_code for r in answers]
    assert set(statuses) == {200, 503}, statuses
    assert 1 <= statuses.count(200) <= 2  # one running + one queued, at most
    for r in answers:
        if r.status_code == 503:
            assert r.headers["retry-after"] == "2"
            assert "requests waiting (queue size 1)" in r.json()["error"]
    assert after.status_code == 200  # the server recovers once the queue drains


def test_slow_model_answers_504_and_keeps_serving(model_files: dict[str, Path]) -> None:
    runner = recording(model_files, delay=1.5)
    options = ServeOptions(timeout_s=0.3, warmup=False)
    with serving(options, {"tiny": runner}) as url:
        start = time.perf_counter()
        (slow,) = post_all(url, [(encoded(20, 20), {})])
        took = time.perf_counter() - start
        runner.delay = 0.0
        time.sleep(max(0.0, 1.7 - took))  # the worker finishes the abandoned batch
        (fast,) = post_all(url, [(encoded(20, 20), {})])
    assert slow.status_code == 504 and "no result within 0.3s" in slow.json()["error"]
    assert took < 1.2  # answered long before the model finished
    assert fast.status_code == 200


def test_failing_model_answers_500_and_the_server_survives(model_files: dict[str, Path]) -> None:
    runner = recording(model_files, fail=RuntimeError("device lost"))
    with serving(ServeOptions(warmup=False), {"tiny": runner}) as url:
        (broken,) = post_all(url, [(encoded(20, 20), {})])
        runner.fail = ModelError("engine gone")
        (nst_error,) = post_all(url, [(encoded(20, 20), {})])
        runner.fail = None
        (ok,) = post_all(url, [(encoded(20, 20), {})])
        ready = httpx.get(f"{url}/readyz")
    assert broken.status_code == 500
    assert broken.json()["error"] == "inference failed on model 'tiny': RuntimeError: device lost"
    assert nst_error.status_code == 500 and nst_error.json()["error"] == "engine gone"
    assert ok.status_code == 200 and ready.status_code == 200


def test_shutdown_lets_in_flight_requests_finish(model_files: dict[str, Path]) -> None:
    runner = recording(model_files, delay=0.5)
    options = ServeOptions(max_batch=2, batch_wait_ms=20, warmup=False)
    app = create_app(options, runners={"tiny": runner})
    service = app.state.service
    answers: list[httpx.Response] = []

    def client(url: str) -> None:
        answers.extend(post_all(url, [(encoded(20, 20), {}) for _ in range(3)]))

    with running_server(app, options) as url:
        thread = threading.Thread(target=client, args=(url,))
        thread.start()
        deadline = time.monotonic() + 10
        while sum(runner.batches) + service.queue_depths()["tiny"] < 3 and time.monotonic() < deadline:
            time.sleep(0.01)  # until every request is in the model or queued for it
        assert service.queue_depths()["tiny"] >= 1  # one waits for the next batch: now shut down
        stopping = time.perf_counter()
    stopped = time.perf_counter() - stopping
    thread.join(10)
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert sum(runner.batches) == 3 and runner.closed
    assert stopped > 0.4  # the server waited for the queued request's batch
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz")
