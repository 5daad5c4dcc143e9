"""The ``model.plan.json`` sidecar: what a TensorRT engine was built with, and the check on load.

A serialized TensorRT engine only runs on the TensorRT version and the GPU architecture it
was built for (unless built version-compatible), and only accepts shapes inside its
optimisation profiles. TensorRT's own error for a mismatch is a terse deserialisation
failure, so every engine ``nst build-engine`` writes gets a JSON sidecar next to it, and
:func:`check_compat` compares it with the machine before deserialising, listing every
difference and the command that rebuilds the engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from nst.artifacts import staged
from nst.config import config_from_dict, config_to_dict
from nst.contract.metadata import ModelMetadata
from nst.contract.profiles import Profile
from nst.errors import EngineCompatError, InputError, ModelError, OutputError, OutputExistsError

SIDECAR_FORMAT = 1


@dataclass(frozen=True)
class Platform:
    """The machine an engine runs on (or was built on), as the sidecar sees it.

    Attributes:
        trt_version: ``tensorrt.__version__``.
        gpu_name: CUDA device name, e.g. ``NVIDIA H100 80GB HBM3``.
        compute_capability: ``major.minor``, e.g. ``9.0``.
        profiles: Profiles read back from a deserialised engine, when known.
        onnx_sha256: Hash of the source ONNX a caller means to pair the engine with, when known.
    """

    trt_version: str
    gpu_name: str
    compute_capability: str
    profiles: tuple[Profile, ...] | None = None
    onnx_sha256: str | None = None


@dataclass(frozen=True)
class Sidecar:
    """Everything recorded next to an engine. Saved as ``<engine>.json``."""

    trt_version: str
    gpu_name: str
    compute_capability: str
    input_name: str
    profiles: tuple[Profile, ...]
    precisions: tuple[str, ...]
    onnx_sha256: str
    onnx_path: str
    nst_version: str
    build_command: str
    version_compatible: bool = False
    exclude_lean_runtime: bool = False
    model_metadata: dict[str, str] = field(default_factory=dict)
    format: int = SIDECAR_FORMAT

    def to_json(self) -> str:
        return json.dumps(config_to_dict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "sidecar") -> Sidecar:
        """Parse a sidecar; :class:`ModelError` when it is not one this nst can read."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            data["profiles"] = tuple(Profile.from_dict(p) for p in data.get("profiles", []))
            sidecar = config_from_dict(cls, data)
        except (ValueError, TypeError, InputError) as exc:
            raise ModelError(f"{source} is not a valid engine sidecar: {exc}") from exc
        if sidecar.format != SIDECAR_FORMAT:
            raise ModelError(f"{source} has sidecar format {sidecar.format}; this nst reads {SIDECAR_FORMAT}")
        return sidecar


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


def check_compat(sidecar: Sidecar, current: Platform, engine: str | Path = "engine") -> None:
    """Raise if the engine described by ``sidecar`` cannot (or should not) run on ``current``.

    TensorRT engines are tied to the exact TensorRT version (a version-compatible engine runs
    on the same or a later release of the same major version) and to the GPU they were tuned
    on: another compute capability cannot run them, another model of the same architecture
    may run them with wrong tactics, so both are refused.

    Raises:
        EngineCompatError: Listing every difference and the command to rebuild.
    """
    diffs = [d for d in (_trt_diff(sidecar, current), *_other_diffs(sidecar, current)) if d]
    if diffs:
        raise EngineCompatError(
            f"{engine} does not match this machine: {'; '.join(diffs)}; "
            f"rebuild it with: {sidecar.build_command}"
        )


def _trt_diff(sidecar: Sidecar, current: Platform) -> str | None:
    built, here = sidecar.trt_version, current.trt_version
    if sidecar.version_compatible:
        b, h = _version_tuple(built), _version_tuple(here)
        if h[:1] == b[:1] and h >= b:
            return None
        return f"TensorRT {built} (version-compatible: needs {b[0]}.x >= {built}) vs {here} here"
    return None if built == here else f"TensorRT {built} (engine) vs {here} here"


def _other_diffs(sidecar: Sidecar, current: Platform) -> list[str | None]:
    diffs: list[str | None] = []
    if sidecar.compute_capability != current.compute_capability:
        diffs.append(
            f"compute capability {sidecar.compute_capability} (engine) vs {current.compute_capability} here"
        )
    if sidecar.gpu_name != current.gpu_name:
        diffs.append(f"GPU {sidecar.gpu_name!r} (engine) vs {current.gpu_name!r} here")
    if current.profiles is not None and tuple(current.profiles) != tuple(sidecar.profiles):
        recorded = " | ".join(p.describe() for p in sidecar.profiles)
        actual = " | ".join(p.describe() for p in current.profiles)
        diffs.append(f"profiles [{recorded}] (sidecar) vs [{actual}] (engine file)")
    if current.onnx_sha256 is not None and current.onnx_sha256 != sidecar.onnx_sha256:
        diffs.append(
            f"source ONNX sha256 {sidecar.onnx_sha256[:12]}... (engine) "
            f"vs {current.onnx_sha256[:12]}... (given)"
        )
    return diffs


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def check_output(path: str | Path, *, force: bool) -> Path:
    """Check an engine output path before any (long) build.

    Raises:
        OutputExistsError: If it (or its sidecar) exists and ``force`` is False.
        InputError: If it is a folder.
    """
    target = Path(path)
    if target.is_dir():
        raise InputError(f"cannot write {target}: it is a folder")
    for p in (target, sidecar_path(target)):
        if p.exists() and not force:
            raise OutputExistsError(f"{p} already exists; use --force to overwrite")
    return target


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temp file in the same folder, then rename over ``path``.

    Raises:
        OutputError: If the folder is missing or not writable, or the disk is full.
    """
    target = Path(path)
    try:
        with staged(target) as tmp:
            tmp.write_bytes(data)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
