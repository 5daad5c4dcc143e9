"""``nst build-engine``: a TensorRT engine (+ sidecar) from an nst ONNX model.

Precision lives in the ONNX file (strongly typed networks). ``--fp16`` on an FP32 model is
the one convenience: this command (not the runtime, which may not import calibration) first
converts it with :func:`nst.calibration.fp16.convert_fp16` into a temporary file, validated
against FP32 on a seeded feed, and builds that; the sidecar records the FP32 model as the
source. ``--int8`` needs a Q/DQ model from ``nst calibrate --precision int8``.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from nst.cli.app import app, handle_errors, human_bytes

SHAPE_HELP = "NxCxHxW, e.g. 1x3x720x1280; repeat --min/--opt/--max together for several profiles."
CC_HELP = "TensorRT-RTX target GPU (repeat): 75, 80, 86, 89, 120, 121 or 8.6; default: the GPU here."
FEED_SIZE = 64  # H = W of the FP16 conversion's validation feed


@app.command("build-engine")
@handle_errors
def build_engine_cmd(
    model: Annotated[Path, typer.Argument(help="ONNX model exported by nst (FP32, FP16 or INT8 Q/DQ).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Destination engine (.plan).")],
    fp16: Annotated[
        bool, typer.Option("--fp16", help="FP16 engine: an FP16 model, or an FP32 one converted first.")
    ] = False,
    int8: Annotated[
        bool, typer.Option("--int8", help="INT8 engine from a Q/DQ model (nst calibrate).")
    ] = False,
    trt: Annotated[
        str, typer.Option("--trt", help="auto, tensorrt (10.x/11.x) or rtx (TensorRT-RTX).")
    ] = "auto",
    compute_capability: Annotated[list[str], typer.Option("--compute-capability", help=CC_HELP)] = [],  # noqa: B006
    min_shape: Annotated[list[str], typer.Option("--min", help=SHAPE_HELP)] = [],  # noqa: B006
    opt_shape: Annotated[list[str], typer.Option("--opt", help=SHAPE_HELP)] = [],  # noqa: B006
    max_shape: Annotated[list[str], typer.Option("--max", help=SHAPE_HELP)] = [],  # noqa: B006
    timing_cache: Annotated[
        Path | None, typer.Option(help="Timing cache file, reused across builds.")
    ] = None,
    workspace_mb: Annotated[int | None, typer.Option(help="Builder workspace limit in MiB.")] = None,
    optimization_level: Annotated[int | None, typer.Option(help="Builder optimisation level 0-5.")] = None,
    version_compatible: Annotated[
        bool, typer.Option("--version-compatible", help="TensorRT: loadable by later runtimes of the major.")
    ] = False,
    exclude_lean_runtime: Annotated[
        bool, typer.Option("--exclude-lean-runtime", help="Leave the lean runtime out (version-compatible).")
    ] = False,
    cuda_binding: Annotated[
        str, typer.Option(help="cuda-python or pycuda (finds the GPU to build for).")
    ] = "cuda-python",
    force: Annotated[bool, typer.Option(help="Overwrite an existing engine and sidecar.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show TensorRT's INFO log.")] = False,
) -> None:
    """Build a TensorRT engine (+ model.plan.json sidecar) from an nst ONNX model."""
    from nst.contract.profiles import parse_profiles
    from nst.runtime.trt.config import EngineConfig

    config = EngineConfig(
        fp16=fp16, int8=int8, library=trt, compute_capabilities=tuple(compute_capability),
        profiles=parse_profiles(min_shape, opt_shape, max_shape), timing_cache=timing_cache,
        workspace_mb=workspace_mb, version_compatible=version_compatible,
        exclude_lean_runtime=exclude_lean_runtime, optimization_level=optimization_level,
    )  # fmt: skip
    result = _build(model, output, config, force=force, cuda_binding=cuda_binding, verbose=verbose)
    s = result.sidecar
    profiles = " | ".join(p.describe() for p in s.profiles)
    where = f"on {s.gpu_name} " if s.gpu_name else ""
    typer.echo(
        f"built {result.path} ({human_bytes(result.size_bytes)}) in {result.seconds:.1f}s: "
        f"{s.library_label} {where}for sm {', '.join(s.compute_capabilities)}, {s.precision}, "
        f"profiles [{profiles}]"
    )


def _build(model: Path, output: Path, config: Any, *, force: bool, cuda_binding: str, verbose: bool) -> Any:
    """Check the targets, convert an FP32 model for ``--fp16``, build; the BuildResult."""
    from nst.artifacts import check_targets
    from nst.runtime.trt.build import build_engine
    from nst.runtime.trt.config import read_model
    from nst.runtime.trt.sidecar import sidecar_path

    check_targets([output, sidecar_path(output)], force=force, sources=[model])  # before any work
    source = read_model(model)
    with tempfile.TemporaryDirectory(prefix="nst-build-") as tmp, _trt_log(verbose):
        parsed = model
        if config.fp16 and source.precision == "fp32":
            parsed = _to_fp16(model, Path(tmp) / f"{model.stem}.fp16.onnx", source.metadata.spec)
        return build_engine(
            parsed, output, config, force=force, cuda_binding=cuda_binding,
            origin=model if parsed != model else None,
            progress=lambda line: typer.echo(f"  {line}", err=True),
        )  # fmt: skip


def _to_fp16(model: Path, out: Path, spec: Any) -> Path:
    """nst's FP16 conversion of ``model`` into ``out``, validated on a seeded feed; one line to stderr."""
    from nst.calibration.fp16 import convert_fp16

    result = convert_fp16(model, out, validation_feeds=[validation_feed(spec)], force=True)
    typer.echo(
        f"  converted {model.name} to FP16 for this build (nst.calibration.fp16, "
        f"{result.psnr_db:.1f} dB vs FP32; keep it with: nst calibrate {model} --precision fp16 ...)",
        err=True,
    )
    return result.path


def validation_feed(spec: Any, size: int = FEED_SIZE, seed: int = 0) -> dict[str, Any]:
    """A seeded feed for every input of ``spec``: images/noise in [0, 1), convex style inputs.

    Sizes come from the spec's profile rules for a ``size`` x ``size`` image; axes those
    rules cannot derive get ``size`` too (batch 1).
    """
    import numpy as np

    from nst.contract.profiles import Profile, image_input, input_shapes
    from nst.errors import NstError
    from nst.runtime.style_inputs import MASKS, WEIGHTS

    try:
        image = image_input(spec)
        shape = (1, int(image.shape[1]), size, size)
        shapes = {k: v[1] for k, v in input_shapes(spec, Profile(shape, shape, shape)).items()}
    except (NstError, ValueError):
        shapes = {}
    rng = np.random.default_rng(seed)
    feed: dict[str, Any] = {}
    for t in spec.inputs:
        dims = shapes.get(t.name) or tuple(
            d if isinstance(d, int) else 1 if d == "batch" else size for d in t.shape
        )
        if t.name in (WEIGHTS, MASKS):
            styles = dims[0] if t.name == WEIGHTS else dims[1]
            feed[t.name] = np.full(dims, 1.0 / styles, np.float32)
        else:
            feed[t.name] = rng.random(dims, dtype=np.float32)
    return feed


@contextlib.contextmanager
def _trt_log(verbose: bool) -> Iterator[None]:
    """TensorRT's log (logger ``nst.trt``) on stderr while building; INFO with ``--verbose``."""
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("  tensorrt %(levelname)s: %(message)s"))
    log = logging.getLogger("nst.trt")
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO if verbose else logging.WARNING)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
