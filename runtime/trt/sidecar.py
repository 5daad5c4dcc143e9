"""The ``model.plan.json`` sidecar: what a TensorRT engine was built with, and the check on load.

A serialized engine runs only with the library that built it (``tensorrt`` or
``tensorrt_rtx``), only on a release that library accepts (TensorRT: the same one, or a later
one of the major for version-compatible engines; TensorRT-RTX: the same one), only on the
compute capabilities it was built for, and only for shapes inside its optimisation profiles.
TensorRT's own error for a mismatch is a terse deserialisation failure, so every engine
``nst build-engine`` writes gets this JSON sidecar, and :func:`check_compat` compares it with the
machine before deserialising, listing every difference and the command that rebuilds it.
:func:`describe_engine` reads it for ``nst info`` without TensorRT or a GPU.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nst.config import config_from_dict, config_to_dict
from nst.contract.metadata import ModelMetadata
from nst.contract.profiles import Profile
from nst.errors import EngineCompatError, InputError, ModelError
from nst.runtime.trt.libs import LABELS, RTX, TENSORRT, version_tuple

#: 2: library + library_version + compute_capabilities (targets), precision, io dtypes.
SIDECAR_FORMAT = 2


@dataclass(frozen=True)
class Platform:
    """The machine an engine is about to be loaded on, as the sidecar check sees it.

    Attributes:
        library: The library loading it: ``tensorrt`` or ``tensorrt_rtx``.
        library_version: Its ``__version__``.
        gpu_name: CUDA device name, e.g. ``NVIDIA RTX A6000``.
        compute_capability: ``major.minor``, e.g. ``8.6``.
        profiles: Profiles read back from the deserialised engine, when known.
    """

    library: str
    library_version: str
    gpu_name: str
    compute_capability: str
    profiles: tuple[Profile, ...] | None = None


@dataclass(frozen=True)
class Sidecar:
    """Everything recorded next to an engine. Saved as ``<engine>.json``.

    Attributes:
        library: ``tensorrt`` or ``tensorrt_rtx``.
        library_version: The builder's ``__version__``.
        compute_capabilities: What the engine runs on, ``"8.6"`` etc. (TensorRT: the build GPU's).
        input_name: The input the profiles describe.
        profiles: Image-input profiles (every other input's follow from the ExportSpec).
        precision: The precision of the ONNX that TensorRT parsed: ``fp32``, ``fp16``, ``int8``.
        source_precision: The precision of ``onnx_path`` (``fp32`` when build-engine converted it).
        io_dtypes: dtype of every engine input and output, as the strongly typed network has them.
        onnx_sha256: Hash of ``onnx_path``.
        onnx_path: The model the engine was built from, as given.
        nst_version: nst that built it.
        build_command: The ``nst build-engine`` command that rebuilds it.
        gpu_name: The GPU it was built on; empty for a build for named targets.
        version_compatible: Built with TensorRT's version-compatible flag.
        exclude_lean_runtime: The lean runtime was left out of it.
        model_metadata: The parsed ONNX's nst metadata (``nst.precision`` included).
        format: :data:`SIDECAR_FORMAT`.
    """

    library: str
    library_version: str
    compute_capabilities: tuple[str, ...]
    input_name: str
    profiles: tuple[Profile, ...]
    precision: str
    source_precision: str
    io_dtypes: dict[str, str]
    onnx_sha256: str
    onnx_path: str
    nst_version: str
    build_command: str
    gpu_name: str = ""
    version_compatible: bool = False
    exclude_lean_runtime: bool = False
    model_metadata: dict[str, str] = field(default_factory=dict)
    format: int = SIDECAR_FORMAT

    @property
    def library_label(self) -> str:
        """``TensorRT-RTX 1.7.1.116`` etc."""
        return f"{LABELS.get(self.library, self.library)} {self.library_version}"

    def to_json(self) -> str:
        return json.dumps(config_to_dict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "sidecar") -> Sidecar:
        """Parse a sidecar.

        Raises:
            ModelError: Not a sidecar, or one of another format (with its rebuild command).
        """
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            raise ModelError(f"{source} is not a valid engine sidecar: {exc}") from exc
        if data.get("format") != SIDECAR_FORMAT:
            rebuild = data.get("build_command") or "nst build-engine MODEL.onnx -o ENGINE --force"
            raise ModelError(
                f"{source} has sidecar format {data.get('format')}; this nst reads {SIDECAR_FORMAT}: "
                f"rebuild the engine with: {rebuild}"
            )
        try:
            data["profiles"] = tuple(Profile.from_dict(p) for p in data.get("profiles", []))
            return config_from_dict(cls, data)
        except (ValueError, TypeError, InputError, ModelError) as exc:
            raise ModelError(f"{source} is not a valid engine sidecar: {exc}") from exc


def sidecar_path(engine: str | Path) -> Path:
    """``model.plan`` -> ``model.plan.json``."""
    p = Path(engine)
    return p.with_name(p.name + ".json")


def read_sidecar(engine: str | Path) -> Sidecar:
    """Read the sidecar of ``engine``.

    Raises:
        ModelError: If it is missing or malformed (the engine cannot be checked, so it is not loaded).
    """
    path = sidecar_path(engine)
    if not path.is_file():
        raise ModelError(
            f"{path} not found: engines are loaded only with the sidecar nst build-engine writes; "
            "rebuild it with `nst build-engine MODEL.onnx -o " + str(engine) + " --force`"
        )
    return Sidecar.from_json(path.read_text(encoding="utf-8"), source=str(path))


def read_engine_record(engine: str | Path) -> tuple[Sidecar, ModelMetadata]:
    """An engine's sidecar and the model metadata recorded in it, without TensorRT.

    Raises:
        ModelError: The engine file or its sidecar is missing or malformed.
    """
    path = Path(engine)
    if not path.is_file():
        raise ModelError(f"engine file not found: {path}")
    sidecar = read_sidecar(path)
    return sidecar, ModelMetadata.from_props(sidecar.model_metadata, source=f"{path}.json")


def describe_engine(path: str | Path) -> tuple[ModelMetadata, dict[str, Any]]:
    """An engine's model metadata and build record for ``nst info``, from its sidecar alone.

    Raises:
        ModelError: The engine or its sidecar is missing or malformed.
    """
    sidecar, meta = read_engine_record(path)
    engine = {
        "library": sidecar.library, "library_version": sidecar.library_version,
        "compute_capabilities": list(sidecar.compute_capabilities), "gpu": sidecar.gpu_name or None,
        "precision": sidecar.precision, "source_precision": sidecar.source_precision,
        "profiles": [p.describe() for p in sidecar.profiles], "io_dtypes": dict(sidecar.io_dtypes),
        "version_compatible": sidecar.version_compatible, "onnx": sidecar.onnx_path,
        "onnx_sha256": sidecar.onnx_sha256, "built_by": sidecar.build_command,
    }  # fmt: skip
    return meta, engine


def check_compat(sidecar: Sidecar, current: Platform, engine: str | Path = "engine") -> None:
    """Raise if the engine described by ``sidecar`` cannot (or should not) run on ``current``.

    Rules: the loading library is the building one; its version is the same (TensorRT
    version-compatible engines: the same major and not older, or a TensorRT 10 engine on
    TensorRT 11; TensorRT-RTX: always the same release); the GPU's compute capability is one
    the engine was built for; for TensorRT (tuned on one GPU) the GPU model is the same too;
    the profiles stored in the engine are the recorded ones.

    Raises:
        EngineCompatError: Listing every difference and the command to rebuild.
    """
    diffs = [d for d in (_library_diff(sidecar, current), *_device_diffs(sidecar, current)) if d]
    if diffs:
        raise EngineCompatError(
            f"{engine} does not match this machine: {'; '.join(diffs)}; "
            f"rebuild it with: {sidecar.build_command}"
        )


def _library_diff(sidecar: Sidecar, current: Platform) -> str | None:
    built, here = sidecar.library_version, current.library_version
    if sidecar.library != current.library:
        loader = f"{LABELS.get(current.library, current.library)} {here}"
        return f"built with {sidecar.library_label}, loading with {loader}"
    if built == here:
        return None
    name = LABELS.get(sidecar.library, sidecar.library)
    if sidecar.library == TENSORRT and sidecar.version_compatible:
        b, h = version_tuple(built), version_tuple(here)
        if (h[:1] == b[:1] and h >= b) or (b[0] == 10 and h[0] == 11):
            return None
        later = " or 11.x" if b[0] == 10 else ""
        return f"{name} {built} (version-compatible: needs {b[0]}.x >= {built}{later}) vs {here} here"
    if sidecar.library == RTX:
        return f"{name} {built} (engine; RTX engines load only on the release that built them) vs {here} here"
    return f"{name} {built} (engine) vs {here} here"


def _device_diffs(sidecar: Sidecar, current: Platform) -> list[str | None]:
    diffs: list[str | None] = []
    if current.compute_capability not in sidecar.compute_capabilities:
        diffs.append(
            f"compute capability {current.compute_capability} here, engine built for "
            f"{', '.join(sidecar.compute_capabilities) or 'none'}"
        )
    if sidecar.library == TENSORRT and sidecar.gpu_name and sidecar.gpu_name != current.gpu_name:
        diffs.append(f"GPU {sidecar.gpu_name!r} (engine) vs {current.gpu_name!r} here")
    if current.profiles is not None and tuple(current.profiles) != tuple(sidecar.profiles):
        recorded = " | ".join(p.describe() for p in sidecar.profiles)
        actual = " | ".join(p.describe() for p in current.profiles)
        diffs.append(f"profiles [{recorded}] (sidecar) vs [{actual}] (engine file)")
    return diffs
