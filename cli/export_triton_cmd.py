"""``nst export-triton``: a Triton Inference Server model repository (docs/TRITON.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import app, handle_errors

BACKEND_HELP = (
    "native: Triton's onnxruntime / tensorrt backend; python: nst's Runner in the python backend "
    "(any Triton); both: NAME native and NAME_python."
)


@app.command("export-triton")
@handle_errors
def export_triton_cmd(
    output: Annotated[Path, typer.Option("--output", "-o", help="Model repository folder.")],
    models: Annotated[
        list[Path] | None, typer.Argument(help="ONNX models or TensorRT engines (+ sidecar), named by stem.")
    ] = None,
    name: Annotated[list[str], typer.Option("--name", help="A model under another name: NAME=PATH.")] = [],  # noqa: B006
    backend: Annotated[str, typer.Option(help=BACKEND_HELP)] = "native",
    max_batch_size: Annotated[
        int | None, typer.Option(help="Largest batch (default 8; an engine's profile batch).")
    ] = None,
    instance_kind: Annotated[str, typer.Option(help="gpu or cpu.")] = "gpu",
    instances: Annotated[int, typer.Option(help="Instances per GPU (or on the CPU).")] = 1,
    max_queue_delay_us: Annotated[int, typer.Option(help="Dynamic batcher's wait for a fuller batch.")] = 100,
    tensorrt: Annotated[
        bool, typer.Option(help="Native ONNX on GPU: ONNX Runtime's TensorRT accelerator (FP16).")
    ] = True,
    threads: Annotated[int, typer.Option(help="Python backend: ONNX Runtime threads (0: default).")] = 0,
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Write a Triton model repository: config.pbtxt + model per model, validated with Triton's schema."""
    from nst.export.triton import TritonOptions, export_triton, model_names

    options = TritonOptions(
        models=model_names(list(models or []), name), output=output, backend=backend,
        max_batch_size=max_batch_size, instance_kind=instance_kind, instance_count=instances,
        max_queue_delay_us=max_queue_delay_us, tensorrt=tensorrt, threads=threads, force=force,
    )  # fmt: skip
    typer.echo(export_triton(options).summary())
