"""The serve package's parts on their own: options, Accept, uploads, metrics, the worker, error mapping."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from nst.errors import InputError, InputImageError, ModelError, NstError
from nst.serve.batcher import Job, ModelWorker
from nst.serve.errors import (
    BodyTooLargeError,
    QueueFullError,
    RequestTimeoutError,
    UnavailableError,
    UnknownModelError,
    status_for,
)
from nst.serve.images import decode_image, decode_style_image, encode_image, negotiate
from nst.serve.metrics import Metrics
from nst.serve.options import ServeOptions, model_paths
from tests.serve.conftest import decoded, encoded, open_models
from tests.serve.models import RecordingRunner


def test_model_paths_names_models_by_stem_and_flag(tmp_path: Path) -> None:
    bundled = tmp_path / "bundled.onnx"
    assert model_paths(None, [], bundled) == {"default": bundled}
    got = model_paths(Path("m/swirl.onnx"), ["fast=a.onnx", "b=c/d.plan"], bundled)
    assert got == {"swirl": Path("m/swirl.onnx"), "fast": Path("a.onnx"), "b": Path("c/d.plan")}
    with pytest.raises(NstError, match="NAME=PATH"):
        model_paths(None, ["a.onnx"], bundled)
    with pytest.raises(NstError, match="given twice"):
        model_paths(Path("x.onnx"), ["x=y.onnx"], bundled)
    with pytest.raises(NstError, match="bad model name"):
        model_paths(None, ["a b=c.onnx"], bundled)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("max_batch", 0, "--max-batch must be > 0"), ("queue_size", -1, "--queue-size"),
     ("timeout_s", 0, "timeout"), ("batch_wait_ms", -1, "--batch-wait-ms must be >= 0"),
     ("threads", 0, "--threads"), ("style_side", 8, "16")],
)  # fmt: skip
def test_options_refuse_bad_limits(field: str, value: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        ServeOptions(**{field: value}).check()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [(None, "png"), ("", "png"), ("*/*", "png"), ("image/*", "png"), ("image/jpeg", "jpeg"),
     ("image/png;q=0.5, image/jpeg", "jpeg"), ("image/jpeg;q=0.2, */*;q=0.8", "png"),
     ("text/html, image/jpeg;q=0.9", "jpeg"), ("image/webp, image/png;q=0.1", "png")],
)  # fmt: skip
def test_negotiate_picks_png_or_jpeg(accept: str | None, fmt: str) -> None:
    assert negotiate(accept) == fmt


def test_negotiate_refuses_what_it_cannot_make() -> None:
    with pytest.raises(NstError, match="admits neither"):
        negotiate("application/json")
    with pytest.raises(NstError, match="admits neither"):
        negotiate("image/png;q=0, image/jpeg;q=0")


def test_uploads_go_through_the_loaders_guards() -> None:
    image = decode_image(encoded(30, 20, mode="RGBA"), field="image", max_pixels=1000)
    assert image.rgb.shape == (20, 30, 3) and image.alpha is not None
    with pytest.raises(InputImageError, match=r"upload 'image' is too large .*limit 500 pixels"):
        decode_image(encoded(30, 20), field="image", max_pixels=500)
    with pytest.raises(InputImageError, match=r"cannot read image upload 'image': not an image"):
        decode_image(b"GIF89a? no", field="image", max_pixels=1000)
    style = decode_style_image(encoded(64, 32), short_side=16, max_pixels=10_000)
    assert style.shape == (1, 3, 16, 32) and style.dtype == np.float32


def test_encode_png_keeps_alpha_and_jpeg_drops_it() -> None:
    rgb, alpha = np.full((5, 7, 3), 0.5, np.float32), np.linspace(0, 1, 35, dtype=np.float32).reshape(5, 7)
    png, jpeg = decoded(encode_image(rgb, alpha, "png")), decoded(encode_image(rgb, alpha, "jpeg"))
    assert (png.format, png.mode, png.size) == ("PNG", "RGBA", (7, 5))
    assert (jpeg.format, jpeg.mode, jpeg.size) == ("JPEG", "RGB", (7, 5))


def test_every_error_has_one_status() -> None:
    cases = [(UnknownModelError("x"), 404), (BodyTooLargeError("x"), 413), (InputImageError("x"), 400),
             (InputError("x"), 400), (QueueFullError("x"), 503), (UnavailableError("x"), 503),
             (RequestTimeoutError("x"), 504), (ModelError("x"), 500), (NstError("x"), 500)]  # fmt: skip
    assert [status_for(e) for e, _ in cases] == [s for _, s in cases]


def test_metrics_text_escapes_labels_and_counts_cumulatively() -> None:
    metrics = Metrics(2, lambda: {"m": 3})
    metrics.requests.inc(model='a"b\\c', status="200")
    for size in (1, 2, 2):
        metrics.batch_size.observe(size, model="m")
    text = metrics.render()
    assert 'nst_serve_requests_total{model="a\\"b\\\\c",status="200"} 1.0' in text
    assert 'nst_serve_batch_size_bucket{model="m",le="1.0"} 1' in text
    assert 'nst_serve_batch_size_bucket{model="m",le="2.0"} 3' in text
    assert 'nst_serve_batch_size_bucket{model="m",le="+Inf"} 3' in text
    assert (
        'nst_serve_batch_size_sum{model="m"} 5.0' in text and 'nst_serve_queue_depth{model="m"} 3.0' in text
    )


class Results:
    """Collects what a worker hands back, thread-safely."""

    def __init__(self) -> None:
        self.items: list[tuple[np.ndarray | None, BaseException | None]] = []
        self.lock = threading.Lock()

    def done(self, result: np.ndarray | None, error: BaseException | None) -> None:
        with self.lock:
            self.items.append((result, error))


def job(results: Results, size: int = 20, key: object = "k", deadline: float = 1e18) -> Job:
    return Job(np.full((3, size, size), 0.5, np.float32), (size, key), {}, deadline, results.done)


def test_worker_close_finishes_queued_jobs(model_files: dict[str, Path]) -> None:
    runner = RecordingRunner(open_models({"t": model_files["tiny"]})["t"], delay=0.1)
    worker = ModelWorker("t", runner, max_batch=2, wait_s=0.0, queue_size=8)
    results = Results()
    for size in (20, 24, 28):  # three kinds: three batches
        worker.submit(job(results, size))
    worker.start()
    worker.close(timeout=5)
    assert len(results.items) == 3 and all(e is None for _, e in results.items)
    assert runner.batches == [1, 1, 1]
    with pytest.raises(UnavailableError, match="shutting down"):
        worker.submit(job(results))


def test_worker_bounds_its_queue_and_drops_expired_jobs(model_files: dict[str, Path]) -> None:
    runner = RecordingRunner(open_models({"t": model_files["tiny"]})["t"])
    worker = ModelWorker("t", runner, max_batch=4, wait_s=0.0, queue_size=2)
    results = Results()
    worker.submit(job(results, deadline=time.monotonic() - 1))  # already late
    cancelled = job(results)
    cancelled.cancelled = True
    worker.submit(cancelled)
    with pytest.raises(QueueFullError, match="queue size 2"):
        worker.submit(job(results))
    worker.start()
    worker.close(timeout=5)
    assert runner.batches == []  # neither reached the model
    assert [type(e) for _, e in results.items] == [RequestTimeoutError, RequestTimeoutError]
