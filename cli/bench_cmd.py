"""``nst bench``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import app, handle_errors


@app.command()
@handle_errors
def bench(
    model: Annotated[Path | None, typer.Argument(help="ONNX model (default: the bundled one).")] = None,
    size: Annotated[list[str], typer.Option("--size", help="256, 512, 720p, 1080p, 4k or HxW (repeat).")] = [  # noqa: B006
        "256",
        "512",
        "720p",
    ],
    backend: Annotated[list[str], typer.Option("--backend", help="ort-cpu, torch-eager (repeat).")] = [  # noqa: B006
        "ort-cpu",
        "torch-eager",
    ],
    batch: Annotated[int, typer.Option(help="Batch size.")] = 1,
    min_runs: Annotated[int, typer.Option(help="Timed runs per case, at least.")] = 5,
    min_seconds: Annotated[float, typer.Option(help="Seconds per case, at least.")] = 2.0,
    out_dir: Annotated[Path, typer.Option(help="Where JSON and markdown go.")] = Path("benchmarks"),
    tag: Annotated[str, typer.Option(help="Results file name (without suffix).")] = "cpu",
) -> None:
    """Benchmark backends on the same net; writes JSON + markdown into benchmarks/."""
    from nst.errors import InputError
    from nst.runtime.bench import run_bench, speedups, write_results
    from nst.runtime.stylizer import default_model_path

    if batch < 1 or min_runs < 1:
        raise InputError("--batch and --min-runs must be >= 1")
    path = model or default_model_path()
    cases = run_bench(path, size, backend, batch=batch, min_runs=min_runs, min_seconds=min_seconds,
                      progress=lambda what: typer.echo(f"  measuring {what}", err=True))  # fmt: skip
    json_path, md_path = write_results(cases, path, out_dir, tag)
    ratios = speedups(cases)
    summary = ", ".join(f"{s} {r:.2f}x" for s, r in ratios.items()) or "n/a"
    typer.echo(f"benchmarked {len(cases)} cases -> {json_path}, {md_path} (torch eager / ORT CPU: {summary})")
