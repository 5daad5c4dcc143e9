"""``nst bench``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import app, handle_errors

TARGET_HELP = (
    "ort-cpu, torch-eager; GPU: ort-cuda, ort-cuda-fp16, ort-trt-fp16, trt (needs --engine), torch-cuda, "
    "torch-cuda-fp16, torch-compile-cuda-fp16 (repeat)."
)


@app.command()
@handle_errors
def bench(
    model: Annotated[Path | None, typer.Argument(help="ONNX model (default: the bundled one).")] = None,
    size: Annotated[list[str], typer.Option("--size", help="256, 512, 720p, 1080p, 4k or HxW (repeat).")] = [  # noqa: B006
        "256",
        "512",
        "720p",
    ],
    target: Annotated[list[str], typer.Option("--target", "--backend", help=TARGET_HELP)] = [  # noqa: B006
        "ort-cpu",
        "torch-eager",
    ],
    batch: Annotated[
        list[int], typer.Option("--batch", help="Batch size (repeat: the report gives the best throughput).")
    ] = [1],  # noqa: B006
    engine: Annotated[
        Path | None, typer.Option(help="TensorRT engine (.plan from nst build-engine) for --target trt.")
    ] = None,
    baseline: Annotated[
        list[Path],
        typer.Option(
            "--model",
            help="Any ONNX file to time in the same run, interleaved with MODEL, on the ort-cpu/ort-cuda/"
            "ort-trt-fp16 targets; its extra inputs are filled in (repeat).",
        ),
    ] = [],  # noqa: B006
    device: Annotated[int, typer.Option(help="CUDA device index for GPU targets.")] = 0,
    min_runs: Annotated[int, typer.Option(help="Timed runs per case, at least.")] = 5,
    min_seconds: Annotated[float, typer.Option(help="Seconds per case, at least.")] = 2.0,
    out_dir: Annotated[Path, typer.Option(help="Where JSON and markdown go.")] = Path("benchmarks"),
    tag: Annotated[
        str | None,
        typer.Option(help="Results file name without suffix (default: cpu, or gpu with a GPU target)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace existing results with this tag.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print cases and result paths as JSON.")] = False,
    video: Annotated[
        Path | None,
        typer.Option(
            help="End-to-end video frames/s (decode + infer + encode) on this clip instead of --size "
            "cases; --target: ort-cpu, ort-cuda, ort-trt-fp16, trt, torch-eager, torch-cuda "
            "(default with --video: every one this machine can run); results: video-fps.{json,md}."
        ),
    ] = None,
    consistency: Annotated[
        list[str], typer.Option(help="With --video: none and/or flow (repeat; default: both).")
    ] = [],  # noqa: B006
) -> None:
    """Benchmark targets on the same net; writes JSON + markdown into benchmarks/."""
    from nst.artifacts import check_targets
    from nst.bench.run import BenchCase, baseline_ratios, parse_sizes, run_bench, speedups, write_results
    from nst.bench.targets import GPU_TARGETS, check_target_names
    from nst.errors import InputError, NstError
    from nst.runtime.stylizer import default_model_path

    if min_runs < 1 or device < 0:
        raise InputError("--min-runs must be >= 1 and --device >= 0")
    if consistency and video is None:
        raise InputError("--consistency needs --video CLIP")
    if video is not None:
        from nst.bench.video_fps import run_video_bench

        if len(batch) != 1:
            raise InputError("--video measures one --batch size")
        if baseline:
            raise InputError("--video times one model; --model baselines are for image sizes")
        default = list(target) == ["ort-cpu", "torch-eager"]  # the image default: every video target here
        result = run_video_bench(
            video, model or default_model_path(), targets=None if default else list(target),
            consistencies=consistency, engine=engine, device_id=device, batch_size=batch[0],
            out_dir=out_dir, tag=tag or "video-fps", force=force,
            progress=lambda what: typer.echo(f"  measuring {what}", err=True),
        )  # fmt: skip
        if as_json:
            typer.echo(json.dumps({"json": str(result.json_path), "markdown": str(result.md_path),
                                   "cases": [asdict(c) for c in result.cases]}))  # fmt: skip
        else:
            typer.echo(result.summary())
        return
    parse_sizes(size)
    check_target_names(list(target), engine)  # option errors first, then existing results
    name = tag or ("gpu" if any(b in GPU_TARGETS for b in target) else "cpu")
    results = [out_dir / f"{name}{suffix}" for suffix in (".json", ".md")]
    check_targets(results, force=force, what=" (or --tag NAME)")  # refuse before measuring
    path = model or default_model_path()
    cases: list[BenchCase] = []
    try:
        run_bench(path, size, target, batches=batch, engine=engine, device_id=device, min_runs=min_runs,
                  min_seconds=min_seconds, into=cases, baselines=baseline,
                  progress=lambda what: typer.echo(f"  measuring {what}", err=True))  # fmt: skip
    except NstError as exc:
        if not cases:
            raise
        partial = write_results(cases, path, out_dir, f"{name}.partial")[1]
        raise type(exc)(f"{exc} ({len(cases)} case(s) measured before it: {partial})") from exc
    json_path, md_path = write_results(cases, path, out_dir, name)
    ratios, versus = speedups(cases), baseline_ratios(cases)
    if as_json:
        record = {"model": str(path), "json": str(json_path), "markdown": str(md_path),
                  "cases": [asdict(c) for c in cases], "speedups": ratios,
                  "baseline_ratios": versus}  # fmt: skip
        typer.echo(json.dumps(record))
        return
    summary = f"torch eager / ORT CPU: {', '.join(f'{s} {r:.2f}x' for s, r in ratios.items()) or 'n/a'}"
    for name, by in versus.items():
        summary += f"; {path.name} / {name}: " + ", ".join(f"{k} {r:.2f}x" for k, r in by.items())
    typer.echo(f"benchmarked {len(cases)} cases -> {json_path}, {md_path} ({summary})")
