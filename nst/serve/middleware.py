"""ASGI middleware: the request-body limit, and request metrics of the stylize endpoint.

:class:`BodyLimit` answers 413 from ``Content-Length`` before reading anything, and counts
the bytes of bodies sent without one, raising :class:`BodyTooLargeError` (413 through the
error handlers) once the limit is passed; no body is ever buffered past the limit.
:class:`RequestMetrics` counts answers by status and times them, whatever answered
(route, error handler or the body limit).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from nst.serve.errors import BodyTooLargeError
from nst.serve.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
MODEL_STATE = "nst_model"  # request.state key: the served model's name, for metric labels


def _too_large(max_bytes: int) -> BodyTooLargeError:
    return BodyTooLargeError(
        f"request body is larger than {max_bytes / 2**20:g} MiB (the server's --max-body-mb)"
    )


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _send_json(send, 413, {"error": str(_too_large(self.max_bytes))})
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _too_large(self.max_bytes)
            return message

        await self.app(scope, limited, send)


class RequestMetrics:
    """Count and time every answer of the paths in ``paths``."""

    def __init__(self, app: ASGIApp, metrics: Metrics, paths: tuple[str, ...] = ("/v1/stylize",)) -> None:
        self.app, self.metrics, self.paths = app, metrics, paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # an exception escaping the app is answered 500 by Starlette

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            model = scope.get("state", {}).get(MODEL_STATE, "")
            self.metrics.requests.inc(model=model, status=str(status))
            self.metrics.latency.observe(time.perf_counter() - start, model=model)


async def _send_json(send: Send, status: int, body: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
               (b"connection", b"close")]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
