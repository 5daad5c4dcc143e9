"""``nst build-engine``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import app, handle_errors, human_bytes

SHAPE_HELP = "NxCxHxW, e.g. 1x3x720x1280; repeat --min/--opt/--max together for several profiles."


@app.command("build-engine")
@handle_errors
def build_engine_cmd(
    model: Annotated[Path, typer.Argument(help="ONNX model exported by nst (fp32, or an INT8 QDQ model).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Destination engine (.plan).")],
    fp16: Annotated[bool, typer.Option("--fp16", help="FP16 kernels; normalisation stays FP32.")] = False,
    int8: Annotated[bool, typer.Option("--int8", help="INT8: a QDQ model, or --calib-data.")] = False,
    calib_data: Annotated[Path | None, typer.Option(help="Image folder for INT8 calibration.")] = None,
    calib_cache: Annotated[Path | None, typer.Option(help="INT8 calibration cache (read/written).")] = None,
    calib_images: Annotated[int, typer.Option(help="INT8: calibrate on at most N images.")] = 64,
    fp32_norms: Annotated[
        bool, typer.Option(help="Keep normalisation layers FP32 under --fp16/--int8 (FP16 overflow).")
    ] = True,
    min_shape: Annotated[list[str], typer.Option("--min", help=SHAPE_HELP)] = [],  # noqa: B006
    opt_shape: Annotated[list[str], typer.Option("--opt", help=SHAPE_HELP)] = [],  # noqa: B006
    max_shape: Annotated[list[str], typer.Option("--max", help=SHAPE_HELP)] = [],  # noqa: B006
    timing_cache: Annotated[
        Path | None, typer.Option(help="Timing cache file, reused across builds.")
    ] = None,
    workspace_mb: Annotated[int | None, typer.Option(help="Builder workspace limit in MiB.")] = None,
    optimization_level: Annotated[int | None, typer.Option(help="Builder optimisation level 0-5.")] = None,
    version_compatible: Annotated[
        bool, typer.Option("--version-compatible", help="Loadable by later TensorRT 10.x runtimes.")
    ] = False,
    exclude_lean_runtime: Annotated[
        bool, typer.Option("--exclude-lean-runtime", help="Leave the lean runtime out (version-compatible).")
    ] = False,
    cuda_backend: Annotated[str, typer.Option(help="cuda-python or pycuda.")] = "cuda-python",
    force: Annotated[bool, typer.Option(help="Overwrite an existing engine and sidecar.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show TensorRT's INFO log.")] = False,
) -> None:
    """Build a TensorRT engine (+ model.plan.json sidecar) from an nst ONNX model."""
    import logging

    from nst.contract.profiles import parse_profiles
    from nst.runtime.trt.build import EngineConfig, build_engine

    config = EngineConfig(
        fp16=fp16, int8=int8, calib_data=calib_data, calib_cache=calib_cache, calib_images=calib_images,
        fp32_norms=fp32_norms,
        profiles=parse_profiles(min_shape, opt_shape, max_shape), timing_cache=timing_cache,
        workspace_mb=workspace_mb, version_compatible=version_compatible,
        exclude_lean_runtime=exclude_lean_runtime, optimization_level=optimization_level,
    )  # fmt: skip
    handler = logging.StreamHandler()  # TensorRT's log (logger "nst.trt") on stderr
    handler.setFormatter(logging.Formatter("  tensorrt %(levelname)s: %(message)s"))
    log = logging.getLogger("nst.trt")
    log.addHandler(handler)
    log.setLevel(logging.INFO if verbose else logging.WARNING)
    try:
        result = build_engine(model, output, config, force=force, cuda_backend=cuda_backend,
                              progress=lambda line: typer.echo(f"  {line}", err=True))  # fmt: skip
    finally:
        log.removeHandler(handler)
    s = result.sidecar
    profiles = " | ".join(p.describe() for p in s.profiles)
    typer.echo(
        f"built {result.path} ({human_bytes(result.size_bytes)}) in {result.seconds:.1f}s: "
        f"TensorRT {s.trt_version} on {s.gpu_name} (sm {s.compute_capability}), "
        f"{'+'.join(s.precisions)}, profiles [{profiles}]"
    )
