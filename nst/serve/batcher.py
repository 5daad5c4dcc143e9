"""Dynamic batching: one worker thread per model, fed by a bounded queue.

Requests of the same kind (same image size, same style choice: their :attr:`Job.key`) that
arrive within ``wait_s`` of the first go into one ``Runner.infer`` call of up to
``max_batch`` images. The queue holds ``queue_size`` jobs at most; :meth:`ModelWorker.submit`
refuses one more with :class:`QueueFullError` instead of letting a backlog grow. Jobs past
their deadline, or whose request gave up, are dropped before they reach the model.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

import numpy as np

from nst.errors import NstError
from nst.runtime.base import Runner
from nst.runtime.style_inputs import ExtraInput, materialise
from nst.serve.errors import InferenceError, QueueFullError, RequestTimeoutError, UnavailableError

log = logging.getLogger("nst.serve")
Done = Callable[[np.ndarray | None, BaseException | None], None]


@dataclass(eq=False)
class Job:
    """One image waiting for inference.

    Attributes:
        image: (3, H, W) float32 RGB in [0, 1].
        key: Jobs with equal keys may share a batch (image size + style choice).
        extra: The model's other inputs (style weights, style image, noise) for this job.
        deadline: ``time.monotonic()`` after which the result is no longer wanted.
        done: Called once from the worker thread with ``(stylized (3, H, W), None)`` or
            ``(None, error)``.
        cancelled: Set by the request when it stops waiting.
    """

    image: np.ndarray
    key: Hashable
    extra: Mapping[str, ExtraInput]
    deadline: float
    done: Done
    cancelled: bool = field(default=False)


class ModelWorker:
    """Runs one model's jobs in batches on its own thread.

    Args:
        name: The model's name (thread name, logs).
        runner: The model; only this worker's thread calls it.
        max_batch: Most jobs per ``infer`` call.
        wait_s: How long to wait for more jobs of the first job's kind.
        queue_size: Most jobs waiting (running ones not counted).
        on_batch: ``fn(batch_size, seconds)`` after every inference call (metrics).
    """

    def __init__(
        self, name: str, runner: Runner, *, max_batch: int, wait_s: float, queue_size: int,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:  # fmt: skip
        self.name, self.runner = name, runner
        self.max_batch, self.wait_s, self.queue_size = max_batch, wait_s, queue_size
        self.on_batch = on_batch
        self._pending: collections.deque[Job] = collections.deque()
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name=f"nst-serve-{name}", daemon=True)

    @property
    def depth(self) -> int:
        """Jobs waiting (not yet in a batch)."""
        return len(self._pending)

    @property
    def alive(self) -> bool:
        """The worker thread runs and takes jobs."""
        return self._thread.is_alive() and not self._closing

    def start(self) -> None:
        self._thread.start()

    def check_room(self) -> None:
        """Raise what :meth:`submit` would for a full or closing queue, before any work is spent
        on a request (:meth:`submit` checks again under the lock)."""
        if self._closing:
            raise UnavailableError(f"model {self.name!r} is shutting down; retry on another server")
        if len(self._pending) >= self.queue_size:
            raise QueueFullError(
                f"model {self.name!r} has {len(self._pending)} requests waiting (queue size "
                f"{self.queue_size}); retry later"
            )

    def submit(self, job: Job) -> None:
        """Queue ``job``.

        Raises:
            QueueFullError: ``queue_size`` jobs are waiting already.
            UnavailableError: The worker is shutting down.
        """
        with self._cond:
            self.check_room()
            self._pending.append(job)
            self._cond.notify()

    def close(self, timeout: float | None = None) -> bool:
        """Take no more jobs, finish the waiting ones, stop the thread (idempotent).

        Returns:
            Whether the thread has stopped (False: still in a batch after ``timeout``).
        """
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._run(batch)

    def _next_batch(self) -> list[Job] | None:
        """The oldest job plus same-key jobs arriving within ``wait_s``; None once closed and empty."""
        with self._cond:
            while not self._pending:
                if self._closing:
                    return None
                self._cond.wait()
            first = self._pending.popleft()
            batch = [first]
            until = time.monotonic() + self.wait_s
            while len(batch) < self.max_batch:
                batch += self._take(first.key, self.max_batch - len(batch))
                left = until - time.monotonic()
                if len(batch) >= self.max_batch or left <= 0 or self._closing:
                    break
                self._cond.wait(left)
            return batch

    def _take(self, key: Hashable, most: int) -> list[Job]:
        """Remove and return up to ``most`` waiting jobs with ``key`` (caller holds the lock)."""
        taken = [job for job in self._pending if job.key == key][:most]
        for job in taken:
            self._pending.remove(job)
        return taken

    def _run(self, batch: list[Job]) -> None:
        now = time.monotonic()
        live = []
        for job in batch:
            if job.cancelled or now > job.deadline:
                job.done(None, RequestTimeoutError("the request timed out while it waited for the model"))
            else:
                live.append(job)
        if not live:
            return
        start = time.perf_counter()
        try:
            out = self._infer(live)
        except Exception as exc:  # a failing batch fails its requests, never the worker
            error = exc if isinstance(exc, NstError) else _inference_error(self.name, exc)
            for job in live:
                job.done(None, error)
            return
        if self.on_batch is not None:
            self.on_batch(len(live), time.perf_counter() - start)
        for job, result in zip(live, out, strict=True):
            job.done(result, None)

    def _infer(self, batch: list[Job]) -> np.ndarray:
        return infer_batch(self.runner, np.stack([job.image for job in batch]), batch[0].extra)


def infer_batch(runner: Runner, images: np.ndarray, extra: Mapping[str, ExtraInput]) -> np.ndarray:
    """(N, 3, H, W) float32 images + the model's other inputs -> (N, 3, H, W) stylized."""
    n, _, h, w = images.shape
    feed = {runner.spec.inputs[0].name: images}
    if len(runner.spec.inputs) > 1:
        feed.update(materialise(runner.spec.inputs[1:], extra, n, h, w))
    return runner.infer(feed)[runner.spec.outputs[0].name]


def _inference_error(name: str, exc: Exception) -> InferenceError:
    log.error("model %r: inference failed", name, exc_info=exc)
    first = str(exc).splitlines()[0][:300] if str(exc) else ""
    return InferenceError(f"inference failed on model {name!r}: {type(exc).__name__}: {first}")
