"""The one place where errors become HTTP answers: ``{"error": "..."}`` with a status code.

nst's :class:`~nst.errors.NstError` hierarchy maps to status codes in :data:`STATUS` (first
match wins, so subclasses come first); the serve-only errors below add the HTTP cases
(unknown model, body too large, queue full, timeout). :func:`install_error_handlers` puts
the mapping on an app, so routes and the service just raise.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from nst.errors import InputError, InputImageError, MissingDependencyError, ModelError, NstError

log = logging.getLogger("nst.serve")


class UnknownModelError(InputError):
    """A request names a model this server does not serve (404)."""


class BodyTooLargeError(InputError):
    """A request body is over ``--max-body-mb`` (413)."""


class NotAcceptableError(InputError):
    """The ``Accept`` header admits neither PNG nor JPEG (406)."""


class UnsupportedMediaError(InputError):
    """The body is neither multipart nor ``image/*`` (415)."""


class QueueFullError(NstError):
    """The model's queue holds ``--queue-size`` requests already (503 + Retry-After)."""


class UnavailableError(NstError):
    """The server is starting or shutting down (503 + Retry-After)."""


class RequestTimeoutError(NstError):
    """A request had no result within ``--timeout-s`` (504)."""


class InferenceError(NstError):
    """The backend failed on a batch with an error that is not an NstError (500)."""


#: Error type -> HTTP status; the first ``isinstance`` match wins.
STATUS: tuple[tuple[type[NstError], int], ...] = (
    (UnknownModelError, 404),
    (BodyTooLargeError, 413),
    (NotAcceptableError, 406),
    (UnsupportedMediaError, 415),
    (InputImageError, 400),
    (InputError, 400),
    (QueueFullError, 503),
    (UnavailableError, 503),
    (RequestTimeoutError, 504),
    (ModelError, 500),
    (MissingDependencyError, 500),
    (NstError, 500),
)
RETRY_LATER = (QueueFullError, UnavailableError)


def status_for(exc: NstError) -> int:
    """The HTTP status of an nst error (500 for anything :data:`STATUS` does not name)."""
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 500)


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """``{"error": message}`` with ``status``."""
    return JSONResponse({"error": message}, status_code=status, headers=dict(headers or {}))


def install_error_handlers(app: FastAPI, *, retry_after_s: int) -> None:
    """Answer every error as ``{"error": ...}``: nst errors by :data:`STATUS`, Starlette's
    HTTP errors (unknown route, bad multipart) with their own status, anything else 500."""

    @app.exception_handler(NstError)
    async def on_nst_error(request: Request, exc: NstError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500 and not isinstance(exc, RETRY_LATER):
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        headers = {"Retry-After": str(retry_after_s)} if isinstance(exc, RETRY_LATER) else None
        return error_response(status, str(exc), headers)

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, f"bad request: {exc}")

    @app.exception_handler(ClientDisconnect)
    async def on_disconnect(request: Request, exc: ClientDisconnect) -> JSONResponse:
        log.info("%s %s: the client went away before its request was read", request.method, request.url.path)
        return error_response(400, "the client disconnected before the request body was read")

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s: unexpected error", request.method, request.url.path, exc_info=exc)
        return error_response(500, f"internal error: {type(exc).__name__}")
