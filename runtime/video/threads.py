"""Background stages joined by bounded queues, so memory stays constant whatever the length.

:class:`Producer` runs an iterator (decoding) in a thread and hands its items over; a
:class:`Consumer` feeds items to a function (encoding) in a thread. Both queues are
bounded: a fast stage waits for a slow one. An exception in a stage's thread is re-raised
in the caller's thread; leaving the ``with`` block (normally, on an error or on
KeyboardInterrupt) stops and joins the thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")
_END = object()
_POLL_S = 0.1  # how often a waiting stage looks at the stop flag


class _Stage:
    def __init__(self, maxsize: int, name: str) -> None:
        self.queue: queue.Queue[object] = queue.Queue(maxsize)
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.name = name
        self.thread: threading.Thread | None = None

    def _start(self, target: Callable[[], None]) -> None:
        self.thread = threading.Thread(target=target, name=self.name, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop the thread and wait for it (idempotent)."""
        self.stop.set()
        while self.thread is not None and self.thread.is_alive():
            self._drain()
            self.thread.join(_POLL_S)
        self._drain()

    def _drain(self) -> None:
        try:
            while True:
                self.queue.get_nowait()
        except queue.Empty:
            pass

    def _put(self, item: object) -> bool:
        """Put ``item``, waiting for room; False if the stage was stopped meanwhile."""
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False


class Producer(_Stage, Generic[T]):
    """Iterate ``source()`` in a thread; iterating the Producer yields its items in order.

    Args:
        source: Makes the iterator (called in the thread, so a generator's setup and
            ``finally`` run there too).
        maxsize: Items buffered at most.
        name: Thread name.
    """

    def __init__(self, source: Callable[[], Iterator[T]], *, maxsize: int, name: str) -> None:
        super().__init__(maxsize, name)
        self._start(lambda: self._run(source))

    def _run(self, source: Callable[[], Iterator[T]]) -> None:
        try:
            iterator = source()
            try:
                for item in iterator:
                    if not self._put(item):
                        return
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # handed to the consumer's thread
            self.error = exc
        self._put(_END)

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self.queue.get()
            if item is _END:
                if self.error is not None:
                    raise self.error
                return
            yield item  # type: ignore[misc]

    def __enter__(self) -> Producer[T]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Consumer(_Stage, Generic[T]):
    """Call ``sink(item)`` in a thread for every :meth:`put` item, in order.

    Args:
        sink: Consumes one item.
        maxsize: Items buffered at most.
        name: Thread name.
    """

    def __init__(self, sink: Callable[[T], None], *, maxsize: int, name: str) -> None:
        super().__init__(maxsize, name)
        self._start(lambda: self._run(sink))

    def _run(self, sink: Callable[[T], None]) -> None:
        try:
            while not self.stop.is_set():
                try:
                    item = self.queue.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                if item is _END:
                    return
                sink(item)  # type: ignore[arg-type]
        except BaseException as exc:  # re-raised by put() / finish()
            self.error = exc
            self.stop.set()

    def put(self, item: T) -> None:
        """Queue ``item``, waiting for room; re-raises the sink's exception."""
        if not self._put(item) or self.error is not None:
            self._raise()

    def finish(self) -> None:
        """Wait until every queued item is consumed; re-raises the sink's exception."""
        if self._put(_END) and self.thread is not None:
            self.thread.join()
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error
        if self.stop.is_set():
            raise RuntimeError(f"{self.name} was stopped")

    def __enter__(self) -> Consumer[T]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
