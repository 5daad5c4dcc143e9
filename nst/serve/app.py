"""The ASGI app of ``nst serve``: thin routes over a :class:`~nst.serve.service.StyleService`.

    >>> from nst.serve.app import create_app
    >>> from nst.serve.options import ServeOptions
    >>> app = create_app(ServeOptions(models={"swirl": Path("swirl.onnx")}))   # any ASGI server

Models are opened when the app is made (so a bad model fails at once); the lifespan warms
them up and starts the workers, and on shutdown lets queued requests finish before the
models close. Limits and errors are in one place each: :mod:`nst.serve.middleware` (body)
and :mod:`nst.serve.errors` (status codes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

import nst
from nst.runtime.base import Runner
from nst.serve.errors import install_error_handlers
from nst.serve.metrics import CONTENT_TYPE
from nst.serve.middleware import MODEL_STATE, BodyLimit, RequestMetrics
from nst.serve.options import ServeOptions
from nst.serve.parsing import read_stylize_request
from nst.serve.service import StyleService


def static_dir() -> Path:
    """The web page's files (``nst/serve/static``)."""
    return Path(str(resources.files("nst.serve") / "static"))


def create_app(options: ServeOptions, *, runners: Mapping[str, Runner] | None = None) -> FastAPI:
    """The service as a FastAPI app.

    Args:
        options: Models and limits.
        runners: Already opened runners by name, served instead of ``options.models``
            (the app closes them on shutdown).

    Raises:
        InputError: Bad options.
        ModelError, MissingDependencyError: A model cannot be opened.
    """
    service = StyleService(runners, options) if runners is not None else StyleService.open(options)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.close()

    app = FastAPI(title="nst serve", version=nst.__version__, lifespan=lifespan, docs_url="/docs")
    app.state.service = service
    install_error_handlers(app, retry_after_s=options.retry_after_s)
    app.add_middleware(BodyLimit, max_bytes=options.max_body_bytes)
    app.add_middleware(RequestMetrics, metrics=service.metrics)
    _routes(app, service)
    app.mount("/static", StaticFiles(directory=static_dir()), name="static")
    return app


def _routes(app: FastAPI, service: StyleService) -> None:
    @app.post("/v1/stylize", response_class=Response, summary="Stylize one image")
    async def stylize(request: Request) -> Response:
        setattr(request.state, MODEL_STATE, service.label_for(request.query_params.get("model")))
        parsed = await read_stylize_request(request)
        setattr(request.state, MODEL_STATE, service.label_for(parsed.model))
        result = await service.stylize(parsed)
        headers = {"X-Model": result.model, "X-Image-Size": f"{result.width}x{result.height}"}
        return Response(result.body, media_type=result.media_type, headers=headers)

    @app.get("/v1/models", summary="Served models: family, styles, inputs")
    async def models() -> dict[str, Any]:
        return {"default": service.default, "models": service.describe(), "limits": service.limits()}

    @app.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: models warm, workers running")
    async def readyz() -> JSONResponse:
        ready = service.is_ready()
        body = {"ready": ready, "queue_depth": service.queue_depths()}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(static_dir() / "index.html", media_type="text/html")
