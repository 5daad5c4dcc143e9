"""Run the app with uvicorn: in the foreground (``nst serve``) or on a background thread.

uvicorn's own graceful shutdown does the draining: on SIGINT/SIGTERM it stops accepting
connections, waits for in-flight requests (at most ``timeout_s`` + a margin), then runs
the app's lifespan shutdown, which finishes whatever is still queued and closes the models.
"""

from __future__ import annotations

import importlib.util
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nst.errors import MissingDependencyError, NstError, require
from nst.serve.options import ServeOptions

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

SHUTDOWN_MARGIN_S = 5


@dataclass(frozen=True)
class ServeSummary:
    """What a finished ``nst serve`` did."""

    models: tuple[str, ...]
    requests: int
    seconds: float

    def summary(self) -> str:
        names = ", ".join(self.models)
        return f"served {self.requests} stylize requests with {names} in {self.seconds:.0f}s"


def make_server(
    app: FastAPI, options: ServeOptions, *, host: str, port: int, log_level: str = "info"
) -> uvicorn.Server:
    """A uvicorn server for ``app`` whose graceful shutdown outlasts the request timeout.

    Raises:
        MissingDependencyError: uvicorn is not installed (the ``serve`` extra).
    """
    require("uvicorn", "serve")
    import uvicorn

    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=log_level == "debug",
        timeout_graceful_shutdown=int(options.timeout_s) + SHUTDOWN_MARGIN_S,
    )  # fmt: skip
    return uvicorn.Server(config)


def serve(
    options: ServeOptions, *, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info",
    announce: Callable[[str], None] | None = None,
) -> ServeSummary:  # fmt: skip
    """Open the models, serve until SIGINT/SIGTERM, drain, and say what was served.

    ``announce`` gets one line once the models are open, before the server starts.

    Raises:
        InputError, ModelError, MissingDependencyError: Bad options or models (before serving).
        NstError: The server could not start (e.g. the port is taken).
    """
    require("fastapi", "serve")
    if not any(importlib.util.find_spec(m) for m in ("python_multipart", "multipart")):
        raise MissingDependencyError(
            "python-multipart is not installed; install it with: pip install 'nst[serve]'"
        )
    from nst.serve.app import create_app

    app = create_app(options)
    server = make_server(app, options, host=host, port=port, log_level=log_level)
    if announce is not None:
        o, names = options, ", ".join(app.state.service.models)
        announce(f"serving {names} on http://{host}:{port} (max batch {o.max_batch}, queue {o.queue_size})")
    start = time.perf_counter()
    try:
        with _stop_on_sigterm():
            server.run()
    except (_Stopped, KeyboardInterrupt):
        pass  # uvicorn re-raises the signal it stopped on, after its graceful shutdown
    except SystemExit as exc:  # uvicorn exits when it cannot bind or start up
        raise NstError(f"the server could not start on {host}:{port} (see the log above)") from exc
    if not server.started:
        raise NstError(f"the server could not start on {host}:{port} (see the log above)")
    service = app.state.service
    return ServeSummary(
        tuple(service.models), int(service.metrics.requests.total()), time.perf_counter() - start
    )


class _Stopped(Exception):
    """SIGTERM arrived (after uvicorn's graceful shutdown, which re-raises it)."""


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """While serving, SIGTERM raises :class:`_Stopped` instead of killing the process, so
    ``nst serve`` exits 0 with its summary after a graceful shutdown."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise _Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def running_server(
    app: FastAPI,
    options: ServeOptions,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    start_timeout: float = 30.0,
) -> Iterator[str]:
    """Serve ``app`` on a background thread; yields its base URL (``port=0``: a free port).

    On exit the server shuts down as on SIGTERM (in-flight requests finish first) and the
    thread is joined.

    Raises:
        NstError: The server did not start within ``start_timeout`` seconds.
    """
    server = make_server(app, options, host=host, port=port, log_level="warning")
    thread = threading.Thread(target=server.run, name="nst-serve-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise NstError(f"the server did not start on {host}:{port}")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(options.timeout_s + 2 * SHUTDOWN_MARGIN_S)
