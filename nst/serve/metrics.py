"""Prometheus metrics of ``nst serve``, written in the text exposition format (0.0.4).

No client library: three small types (:class:`Counter`, :class:`Histogram` and a gauge read
at scrape time) are all the service needs. Every value is guarded by one lock, since the
worker threads observe batches while the event loop observes requests.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
Labels = tuple[tuple[str, str], ...]


def _labels(pairs: Labels) -> str:
    if not pairs:
        return ""
    escaped = (v.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n") for _, v in pairs)
    return "{" + ",".join(f'{k}="{v}"' for (k, _), v in zip(pairs, escaped, strict=True)) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Counter:
    """A monotonically increasing count per label set."""

    kind = "counter"

    def __init__(self, name: str, doc: str, lock: threading.Lock) -> None:
        self.name, self.doc, self._lock = name, doc, lock
        self._values: dict[Labels, float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(tuple(sorted(labels.items())), 0.0)

    def total(self) -> float:
        """The sum over every label set."""
        with self._lock:
            return sum(self._values.values())

    def samples(self) -> list[str]:
        return [f"{self.name}{_labels(k)} {_number(v)}" for k, v in sorted(self._values.items())]


class Histogram:
    """Observations counted into cumulative ``le`` buckets, with their sum and count."""

    kind = "histogram"

    def __init__(self, name: str, doc: str, lock: threading.Lock, buckets: Sequence[float]) -> None:
        self.name, self.doc, self._lock = name, doc, lock
        self.buckets = (*sorted(buckets), math.inf)
        self._counts: dict[Labels, list[int]] = {}
        self._sums: dict[Labels, float] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            counts = self._counts.setdefault(key, [0] * len(self.buckets))
            counts[next(i for i, edge in enumerate(self.buckets) if value <= edge)] += 1
            self._sums[key] = self._sums.get(key, 0.0) + value

    def counts(self, **labels: str) -> dict[float, int]:
        """Non-cumulative counts per bucket edge (for tests and reports)."""
        with self._lock:
            raw = self._counts.get(tuple(sorted(labels.items())), [0] * len(self.buckets))
            return dict(zip(self.buckets, raw, strict=True))

    def samples(self) -> list[str]:
        lines = []
        for key, counts in sorted(self._counts.items()):
            total = 0
            for edge, count in zip(self.buckets, counts, strict=True):
                total += count
                lines.append(f"{self.name}_bucket{_labels((*key, ('le', _number(edge))))} {total}")
            lines.append(f"{self.name}_sum{_labels(key)} {_number(self._sums[key])}")
            lines.append(f"{self.name}_count{_labels(key)} {total}")
        return lines


class Gauge:
    """A value read when metrics are scraped: ``read() -> {labels: value}``."""

    kind = "gauge"

    def __init__(self, name: str, doc: str, read: Callable[[], Mapping[Labels, float]]) -> None:
        self.name, self.doc, self._read = name, doc, read

    def samples(self) -> list[str]:
        return [f"{self.name}{_labels(k)} {_number(v)}" for k, v in sorted(self._read().items())]


Metric = Counter | Histogram | Gauge


class Metrics:
    """The service's metrics; :meth:`render` is the ``/metrics`` body.

    Args:
        max_batch: The batch-size histogram gets one bucket per size up to it.
        queue_depths: ``fn() -> {model: waiting requests}``, read at scrape time.
    """

    def __init__(self, max_batch: int, queue_depths: Callable[[], Mapping[str, int]]) -> None:
        lock = threading.Lock()
        self._lock = lock
        self.requests = Counter("nst_serve_requests_total", "Stylize requests answered, by status.", lock)
        self.latency = Histogram(
            "nst_serve_request_duration_seconds", "Stylize request latency, body read to answer.",
            lock, LATENCY_BUCKETS,
        )  # fmt: skip
        self.batch_size = Histogram(
            "nst_serve_batch_size", "Requests per inference call.", lock, range(1, max_batch + 1)
        )
        self.inference = Histogram(
            "nst_serve_inference_seconds", "Wall time of one inference call.", lock, LATENCY_BUCKETS
        )

        def depth() -> dict[Labels, float]:
            return {(("model", m),): float(n) for m, n in queue_depths().items()}

        self.queue_depth = Gauge("nst_serve_queue_depth", "Requests waiting for inference.", depth)
        self._all: tuple[Metric, ...] = (
            self.requests, self.latency, self.queue_depth, self.batch_size, self.inference,
        )  # fmt: skip

    def render(self) -> str:
        """Every metric in Prometheus text format."""
        lines: list[str] = []
        for metric in self._all:
            lines += [f"# HELP {metric.name} {metric.doc}", f"# TYPE {metric.name} {metric.kind}"]
            if isinstance(metric, Gauge):
                lines += metric.samples()
            else:
                with self._lock:
                    lines += metric.samples()
        return "\n".join(lines) + "\n"
