"""Checkpoint -> ONNX with dynamic batch/height/width, nst metadata, checker and validation."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

import nst
from nst.artifacts import check_targets, staged
from nst.contract.metadata import ModelMetadata
from nst.contract.spec import ExportSpec
from nst.errors import ExportError
from nst.export.validate import SizeCheck, validate_onnx
from nst.train.checkpoint import load_checkpoint, model_from_checkpoint


@dataclass(frozen=True)
class ExportResult:
    """What ``nst export`` produced."""

    path: Path
    seconds: float
    size_bytes: int
    checks: list[SizeCheck]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's progress prints and torchvision-missing warnings."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def dynamic_shapes(spec: ExportSpec) -> dict[str, dict[int, object]]:
    """torch.export Dims for every named axis of every input; one Dim object per axis name."""
    from torch.export import Dim

    dims: dict[str, object] = {}
    for tensor in spec.inputs:
        for axis in tensor.shape:
            if isinstance(axis, str) and axis not in dims:
                low = 1 if axis == "batch" else spec.axis_min.get(axis, spec.min_size)
                dims[axis] = Dim(axis, min=low, max=1024 if axis == "batch" else 16384)
    return {t.name: {i: dims[a] for i, a in enumerate(t.shape) if isinstance(a, str)} for t in spec.inputs}


def onnx_from_module(model: nn.Module, spec: ExportSpec) -> onnx.ModelProto:  # type: ignore[name-defined] # noqa: F821
    """Export ``model`` to an in-memory ONNX model with every named axis dynamic."""
    size = max(spec.min_size, 64)
    generator = torch.Generator().manual_seed(0)
    feeds = model.example_inputs(2, size, size + spec.pad_multiple, generator)  # type: ignore[operator]
    example = tuple(feeds.values())
    dynamic = dynamic_shapes(spec)
    try:
        with _quiet():
            program = torch.onnx.export(
                model.eval(), example, input_names=[t.name for t in spec.inputs],
                output_names=[t.name for t in spec.outputs], dynamic_shapes=dynamic,
                opset_version=spec.opset, dynamo=True, verbose=False,
            )  # fmt: skip
    except Exception as exc:  # the exporter raises many types
        raise ExportError(f"torch.onnx.export failed: {str(exc).splitlines()[0]}") from exc
    if program is None:
        raise ExportError("torch.onnx.export returned no program")
    return program.model_proto


def export_checkpoint(
    checkpoint: str | Path, output: str | Path, *, validate: bool = True, force: bool = False,
    opset: int | None = None,
) -> ExportResult:  # fmt: skip
    """Export an nst checkpoint to ONNX.

    Args:
        checkpoint: ``.pt`` file written by ``nst train``.
        output: Destination ``.onnx``.
        validate: Compare with PyTorch at the spec's sizes (odd ones included).
        force: Overwrite ``output`` if it exists.
        opset: Override the spec's ONNX opset.

    Raises:
        OutputExistsError: ``output`` exists and ``force`` is false.
        CheckpointError: The checkpoint is missing or broken.
        ExportError / ValidationError: Export failed or disagrees with PyTorch.
    """
    import onnx

    (out,) = check_targets([output], force=force, sources=[checkpoint])
    start = time.perf_counter()
    ckpt = load_checkpoint(checkpoint)
    model = model_from_checkpoint(ckpt)
    spec = model.export_spec()
    if opset is not None:
        spec = dataclasses.replace(spec, opset=opset)
    proto = onnx_from_module(model, spec)
    meta = ModelMetadata(
        family=ckpt["family"], styles=tuple(ckpt["styles"]), spec=spec, version=nst.__version__,
        extra={
            "nst.model_config": json.dumps(ckpt["model_config"]),
            "nst.train_config": json.dumps(ckpt["train_config"]),
            "nst.train_step": str(ckpt["step"]),
        },
    )  # fmt: skip
    onnx.helper.set_model_props(proto, meta.to_props())
    proto.producer_name, proto.producer_version = "nst", nst.__version__
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"onnx.checker rejected the exported model: {exc}") from exc
    checks: list[SizeCheck] = []
    with staged(out) as tmp:  # a model that fails validation never lands under the target name
        onnx.save_model(proto, str(tmp))
        if validate:
            checks = validate_onnx(model, tmp, spec)
    return ExportResult(out, time.perf_counter() - start, out.stat().st_size, checks)
