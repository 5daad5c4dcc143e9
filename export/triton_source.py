"""What ``nst export-triton`` needs to know of a model file, read without nst.runtime.

nst.export may not import nst.runtime (docs/ARCHITECTURE.md), so a model is described from
its own records: an ONNX file from its ``metadata_props`` and graph (read with ``onnx``,
weights left on disk), a TensorRT engine from the ``<engine>.json`` sidecar that
``nst build-engine`` writes beside it (parsed as JSON; the engine itself is never opened).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nst.contract.metadata import ModelMetadata
from nst.contract.profiles import Profile
from nst.errors import InputError, ModelError, require

ONNX_SUFFIXES = (".onnx",)
ENGINE_SUFFIXES = (".plan", ".engine")


@dataclass(frozen=True)
class ModelSource:
    """A model file as the Triton exporter sees it.

    Attributes:
        path: The model file.
        kind: ``onnx`` or ``plan``.
        metadata: Its nst metadata (the I/O contract in ``metadata.spec``).
        io_dtypes: numpy dtype names of the tensors as the file itself declares them (the ONNX
            graph's, the engine's strongly typed I/O); what a native Triton backend checks.
        sidecar: The engine's sidecar file (engines only).
        library: ``tensorrt`` or ``tensorrt_rtx`` (engines only).
        library_version: The builder's version (engines only).
        max_batch: The largest batch of the engine's first optimisation profile (engines only).
    """

    path: Path
    kind: str
    metadata: ModelMetadata
    io_dtypes: dict[str, str] = field(default_factory=dict)
    sidecar: Path | None = None
    library: str = ""
    library_version: str = ""
    max_batch: int | None = None

    @property
    def files(self) -> dict[str, Path]:
        """What goes into the version folder: ``{file name there: source}``."""
        if self.sidecar is None:  # an ONNX model
            return {"model.onnx": self.path}
        return {"model.plan": self.path, "model.plan.json": self.sidecar}

    @property
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files.values())


def read_source(path: str | Path) -> ModelSource:
    """Describe an ``.onnx`` model or a ``.plan``/``.engine`` TensorRT engine.

    Raises:
        InputError: Not a file, or a suffix that is neither.
        ModelError: Unreadable, without nst metadata, graph and metadata disagree, a
            missing or malformed sidecar.
        MissingDependencyError: ``onnx`` is not installed (for ONNX models).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"model {p} not found")
    suffix = p.suffix.lower()
    if suffix in ONNX_SUFFIXES:
        return read_onnx(p)
    if suffix in ENGINE_SUFFIXES:
        return read_engine(p)
    kinds = ", ".join(ONNX_SUFFIXES + ENGINE_SUFFIXES)
    raise InputError(f"{p} is not a model file ({kinds}); export one with `nst export`")


def read_onnx(path: Path) -> ModelSource:
    """An ONNX model's nst metadata and graph I/O dtypes (weights are not loaded).

    Raises:
        ModelError: Not ONNX, no nst metadata, external weights, graph I/O that is not the
            metadata's.
    """
    onnx: Any = require("onnx", "train")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, ValueError, ... for non-ONNX bytes
        raise ModelError(f"{path} is not an ONNX model: {str(exc).splitlines()[0][:200]}") from exc
    external = [t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise ModelError(f"{path} keeps weights in external files ({external[0]}, ...); save it as one file")
    meta = ModelMetadata.from_props({p.key: p.value for p in model.metadata_props}, source=str(path))
    initializers = {t.name for t in model.graph.initializer}
    graph_inputs = [v for v in model.graph.input if v.name not in initializers]
    dtypes: dict[str, str] = {}
    for role, values, tensors in (("inputs", graph_inputs, meta.spec.inputs),
                                  ("outputs", model.graph.output, meta.spec.outputs)):  # fmt: skip
        names = [v.name for v in values]
        declared = [t.name for t in tensors]
        if names != declared:
            raise ModelError(f"{path}: graph {role} {names} do not match its metadata {declared}")
        for value in values:
            elem = value.type.tensor_type.elem_type
            dtypes[value.name] = onnx.helper.tensor_dtype_to_np_dtype(elem).name
    return ModelSource(path, "onnx", meta, dtypes)


def read_engine(path: Path) -> ModelSource:
    """A TensorRT engine's nst metadata, I/O dtypes, library and profile, from its sidecar.

    Raises:
        ModelError: The sidecar is missing or is not one ``nst build-engine`` wrote.
    """
    sidecar = path.with_name(path.name + ".json")
    if not sidecar.is_file():
        raise ModelError(
            f"{sidecar} not found: Triton repositories take engines with the sidecar nst build-engine "
            f"writes; rebuild with `nst build-engine MODEL.onnx -o {path} --force`"
        )
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("model_metadata"), dict):
            raise ValueError("no model_metadata object")
        profiles = [Profile.from_dict(p) for p in data.get("profiles", [])]
    except (OSError, ValueError) as exc:
        raise ModelError(f"{sidecar} is not an engine sidecar of nst build-engine: {exc}") from exc
    meta = ModelMetadata.from_props({str(k): str(v) for k, v in data["model_metadata"].items()},
                                    source=str(sidecar))  # fmt: skip
    dtypes = {t.name: t.dtype for t in (*meta.spec.inputs, *meta.spec.outputs)}
    dtypes.update({str(k): str(v) for k, v in dict(data.get("io_dtypes") or {}).items()})
    max_batch = profiles[0].max[0] if profiles else None
    library, version = str(data.get("library", "")), str(data.get("library_version", ""))
    return ModelSource(path, "plan", meta, dtypes, sidecar, library, version, max_batch)
