"""``nst serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import app, handle_errors


@app.command()
@handle_errors
def serve(
    model: Annotated[
        Path | None, typer.Argument(help="Model or engine, served under its file stem (default: bundled).")
    ] = None,
    models: Annotated[list[str], typer.Option("--model", help="More models as NAME=PATH (repeatable).")] = [],  # noqa: B006
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    providers: Annotated[str, typer.Option(help="ONNX models: auto, cpu, cuda or tensorrt.")] = "auto",
    threads: Annotated[int | None, typer.Option(help="ONNX Runtime threads per model.")] = None,
    max_batch: Annotated[int, typer.Option(help="Most requests in one inference call.")] = 4,
    batch_wait_ms: Annotated[
        float, typer.Option(help="How long a batch waits for more requests of its kind.")
    ] = 5.0,
    queue_size: Annotated[int, typer.Option(help="Requests waiting per model; more get 503.")] = 64,
    timeout_s: Annotated[float, typer.Option(help="Per-request time limit; over it: 504.")] = 30.0,
    max_body_mb: Annotated[float, typer.Option(help="Largest request body in MiB; over it: 413.")] = 20.0,
    max_pixels: Annotated[
        int | None, typer.Option(help="Largest upload in pixels (default 8,388,608: 4K UHD).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level (debug logs each request).")] = "info",
) -> None:
    """Serve models over HTTP: POST /v1/stylize, GET /v1/models, /metrics, and a web page at /."""
    from nst.runtime.stylizer import default_model_path
    from nst.serve.options import SERVE_MAX_PIXELS, ServeOptions, model_paths
    from nst.serve.server import serve as run_server

    options = ServeOptions(
        models=model_paths(model, models, default_model_path()), providers=providers, threads=threads,
        max_batch=max_batch, batch_wait_ms=batch_wait_ms, queue_size=queue_size, timeout_s=timeout_s,
        max_body_mb=max_body_mb, max_pixels=max_pixels or SERVE_MAX_PIXELS,
    ).check()  # fmt: skip
    result = run_server(options, host=host, port=port, log_level=log_level, announce=typer.echo)
    typer.echo(result.summary())
