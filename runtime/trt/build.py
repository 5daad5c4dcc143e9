"""TensorRT engines from nst ONNX models: ``engine_from_onnx(path, EngineConfig) -> bytes``.

One builder over TensorRT 10.x, TensorRT 11.x and TensorRT-RTX (:mod:`nst.runtime.trt.libs`),
strongly typed networks only: the engine's precision is the ONNX file's (FP16 from nst's FP16
conversion, INT8 from Q/DQ nodes), so ``--fp16``/``--int8`` only say which model is expected.
Profiles come from the model's ExportSpec (every input's min/opt/max) or ``--min/--opt/--max``;
TensorRT-RTX builds for ``--compute-capability`` targets without a GPU (CI builds real engines
this way). :func:`build_engine` writes the engine and its sidecar together, staged and
validated before either is committed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nst
from nst.artifacts import check_targets, sha256_file, staged
from nst.contract.profiles import Profile, profiled_input
from nst.errors import EngineBuildError, InputError
from nst.runtime.trt.builder_config import Progress, configure, save_timing_cache
from nst.runtime.trt.config import EngineConfig, SourceModel, build_command, read_model, resolve_profiles
from nst.runtime.trt.cuda import CudaBinding
from nst.runtime.trt.libs import TrtLib, select_library
from nst.runtime.trt.logger import LOG, make_logger, summarize
from nst.runtime.trt.sidecar import Sidecar, sidecar_path
from nst.runtime.trt.targets import Targets, resolve_targets

#: Smaller "engines" are not engines (the smallest real plan of a one-layer net is ~100 KB).
MIN_PLAN_BYTES = 1024


@dataclass(frozen=True)
class BuiltEngine:
    """A serialized engine and what it was built with.

    Attributes:
        data: The plan.
        lib: The library that built it.
        targets: The compute capabilities it was built for.
        io_dtypes: dtype of every network input and output (``float32``, ``float16``, ...).
        profiles: The image-input profiles it holds.
    """

    data: bytes
    lib: TrtLib
    targets: Targets
    io_dtypes: dict[str, str]
    profiles: tuple[Profile, ...]


@dataclass(frozen=True)
class BuildResult:
    """A written engine and its sidecar."""

    path: Path
    sidecar: Sidecar
    size_bytes: int
    seconds: float


def engine_from_onnx(
    path: str | Path, config: EngineConfig, *, model: SourceModel | None = None,
    progress: Progress | None = None, cuda_binding: str | CudaBinding = "cuda-python",
) -> bytes:  # fmt: skip
    """Build a serialized TensorRT engine from an nst ONNX model.

    Args:
        path: The ONNX model (with nst metadata).
        config: Build options.
        model: :func:`read_model` of ``path``, if already read.
        progress: Called with a line per top-level build phase.
        cuda_binding: How to find the GPU at hand when the build is for it.

    Returns:
        The serialized engine.

    Raises:
        MissingDependencyError: The chosen TensorRT library is not installed.
        InputError: Options that do not fit the model or the library (see :func:`build_network`).
        EngineBuildError: The ONNX parser or the builder failed (TensorRT's errors included).
    """
    return build_network(path, config, model=model, progress=progress, cuda_binding=cuda_binding).data


def build_network(
    path: str | Path, config: EngineConfig, *, model: SourceModel | None = None,
    progress: Progress | None = None, cuda_binding: str | CudaBinding = "cuda-python",
) -> BuiltEngine:  # fmt: skip
    """:func:`engine_from_onnx`, returning the library, targets and I/O dtypes with the plan.

    Raises:
        InputError: The precision flag does not match the model; profiles that do not fit it;
            targets the library cannot build for; TensorRT-only options with TensorRT-RTX.
        plus what :func:`engine_from_onnx` raises.
    """
    model = model or read_model(path)
    profiles = resolve_profiles(config, model)  # before any library loads
    lib = select_library(config.library, targets=bool(config.compute_capabilities))
    check_library_options(lib, config)
    targets = resolve_targets(lib, config, cuda_binding)
    trt = lib.module
    logger = make_logger(trt)
    builder = trt.Builder(logger)
    network = builder.create_network(lib.network_flags)
    parser = parse_network(trt, network, logger, model.path)  # owns the weights: keep until built
    bconfig = builder.create_builder_config()
    setup = configure(lib, builder, bconfig, network, config, model, profiles, targets, progress)
    started = time.perf_counter()
    serialized = builder.build_serialized_network(network, bconfig)
    if serialized is None:
        raise EngineBuildError(
            f"{lib.label} could not build an engine from {model.path.name}: {summarize(logger.errors)}"
        )
    if config.timing_cache is not None:
        save_timing_cache(bconfig, config.timing_cache)
    LOG.info("built engine with %s for %s in %.1fs", lib.label, ", ".join(targets.compute_capabilities),
             time.perf_counter() - started)  # fmt: skip
    built = BuiltEngine(bytes(serialized), lib, targets, network_io(trt, network), profiles)
    del parser, setup
    return built


def check_library_options(lib: TrtLib, config: EngineConfig) -> None:
    """Refuse options the chosen library would ignore.

    Raises:
        InputError: ``--version-compatible`` or ``--timing-cache`` with TensorRT-RTX.
    """
    if not lib.has_targets:
        return
    if config.version_compatible:
        raise InputError(
            f"--version-compatible is a TensorRT 10/11 option; {lib.label} engines load only on the "
            "release that built them"
        )
    if config.timing_cache is not None:
        raise InputError(
            f"--timing-cache is a TensorRT 10/11 option; timing caches are no-ops in {lib.label}"
        )


def parse_network(trt: Any, network: Any, logger: Any, path: Path) -> Any:
    """Parse ``path`` into ``network``; returns the parser (it owns the weights).

    Raises:
        EngineBuildError: With the parser's first errors (node, operator, reason).
    """
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(path)):
        errors = [_parser_error(parser.get_error(i)) for i in range(parser.num_errors)]
        detail = summarize(errors or logger.errors)
        raise EngineBuildError(f"TensorRT's ONNX parser rejected {path.name}: {detail}")
    return parser


def _parser_error(error: Any) -> str:
    """``node NAME (OP): reason`` from a ``trt.ParserError``."""
    desc = str(error.desc()) if hasattr(error, "desc") else str(error)
    node = error.node_name() if hasattr(error, "node_name") else ""
    op = error.node_operator() if hasattr(error, "node_operator") else ""
    return f"node {node} ({op}): {desc}" if node or op else desc


def network_io(trt: Any, network: Any) -> dict[str, str]:
    """dtype name of every network input, then output (what the strongly typed engine takes)."""
    import numpy as np

    tensors = [network.get_input(i) for i in range(network.num_inputs)]
    tensors += [network.get_output(i) for i in range(network.num_outputs)]
    return {t.name: np.dtype(trt.nptype(t.dtype)).name for t in tensors}


def build_engine(
    onnx_path: str | Path, output: str | Path, config: EngineConfig, *, force: bool = False,
    progress: Progress | None = None, cuda_binding: str | CudaBinding = "cuda-python",
    origin: str | Path | None = None,
) -> BuildResult:  # fmt: skip
    """Build ``output`` (the engine) and ``output.json`` (its sidecar) from an ONNX model.

    Args:
        onnx_path: The model TensorRT parses.
        output: The engine file.
        config: Build options.
        force: Replace an existing engine and sidecar.
        progress: Called with a line per top-level build phase.
        cuda_binding: How to find the GPU at hand when the build is for it.
        origin: The model the user gave, when ``onnx_path`` was derived from it (``nst
            build-engine --fp16`` converts an FP32 model first); the sidecar records it.

    Raises:
        OutputExistsError: ``output`` or its sidecar exists and ``force`` is False.
        OutputError: They cannot be written.
        plus everything :func:`engine_from_onnx` raises.
    """
    source = Path(origin) if origin is not None else Path(onnx_path)
    plan, _ = check_targets([output, sidecar_path(output)], force=force, sources=[onnx_path, source])
    started = time.perf_counter()
    model = read_model(onnx_path)
    given = read_model(source) if origin is not None else model
    built = build_network(onnx_path, config, model=model, progress=progress, cuda_binding=cuda_binding)
    gpu = built.targets.gpu
    sidecar = Sidecar(
        library=built.lib.name, library_version=built.lib.version,
        compute_capabilities=built.targets.compute_capabilities,
        input_name=profiled_input(model.metadata.spec).name, profiles=built.profiles,
        precision=model.precision, source_precision=given.precision, io_dtypes=built.io_dtypes,
        onnx_sha256=sha256_file(source), onnx_path=str(source), nst_version=nst.__version__,
        build_command=build_command(source, plan, config, built.lib.name),
        gpu_name=gpu.name if gpu is not None and built.targets.current else "",
        version_compatible=config.version_compatible, exclude_lean_runtime=config.exclude_lean_runtime,
        model_metadata=model.metadata.to_props(),
    )  # fmt: skip
    write_engine(plan, built.data, sidecar)
    return BuildResult(plan, sidecar, len(built.data), time.perf_counter() - started)


def write_engine(plan: Path, data: bytes, sidecar: Sidecar) -> None:
    """Stage the engine and its sidecar, check both, then commit them (sidecar first).

    Raises:
        EngineBuildError: The plan is too small to be an engine, or a staged file reads back wrong.
        OutputError: A file cannot be written.
    """
    if len(data) < MIN_PLAN_BYTES:
        raise EngineBuildError(f"TensorRT returned a {len(data)}-byte plan for {plan.name}; not an engine")
    with staged(plan) as tmp_plan, staged(sidecar_path(plan)) as tmp_side:
        tmp_plan.write_bytes(data)
        tmp_side.write_text(sidecar.to_json(), encoding="utf-8")
        if tmp_plan.stat().st_size != len(data) or Sidecar.from_json(tmp_side.read_text("utf-8")) != sidecar:
            raise EngineBuildError(f"{plan} or its sidecar did not read back as written; nothing was kept")
