"""Which TensorRT library builds or loads an engine, its version, and what it can do.

nst builds strongly typed networks only, with one of three libraries:

==================  ===========  ==================================================================
library             module       differences that matter here
==================  ===========  ==================================================================
TensorRT 10.x       tensorrt     strong typing is opt-in: ``create_network(1 << STRONGLY_TYPED)``;
                                 builds for the GPU it runs on (no compute-capability targets)
TensorRT 11.x       tensorrt     every network is strongly typed (``create_network(0)``); builds
                                 for the GPU it runs on
TensorRT-RTX 1.x    tensorrt_rtx always strongly typed; builds for named compute capabilities
                                 (``IBuilderConfig.set_compute_capability``), so no GPU is needed
                                 to build; an engine loads only on the release that built it
==================  ===========  ==================================================================

Nothing here imports a library at module import; :func:`import_library` does, when asked.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from nst.errors import InputError, MissingDependencyError, did_you_mean

TENSORRT, RTX = "tensorrt", "tensorrt_rtx"
LIBRARIES = (TENSORRT, RTX)
#: ``--trt`` values: ``auto`` or a library.
CHOICES = ("auto", "tensorrt", "rtx")
#: TensorRT majors whose builder and runtime API nst is written against.
TENSORRT_MAJORS = (10, 11)
#: Compute capabilities TensorRT-RTX can target -> its ``ComputeCapability`` member.
TARGETS = {"7.5": "SM75", "8.0": "SM80", "8.6": "SM86", "8.9": "SM89", "12.0": "SM120", "12.1": "SM121"}
EXTRAS = {TENSORRT: "trt", RTX: "trt-rtx"}
LABELS = {TENSORRT: "TensorRT", RTX: "TensorRT-RTX"}


@dataclass(frozen=True)
class TrtLib:
    """An imported TensorRT library and what differs between the three.

    Attributes:
        name: Module name, ``tensorrt`` or ``tensorrt_rtx`` (as recorded in sidecars).
        module: The imported module (passed to the functions that call TensorRT as ``trt``).
        version: ``module.__version__``.
    """

    name: str
    module: Any
    version: str

    @property
    def major(self) -> int:
        """The major version number."""
        return version_tuple(self.version)[0]

    @property
    def label(self) -> str:
        """``TensorRT 10.3.0.26`` / ``TensorRT-RTX 1.7.1.116``."""
        return f"{LABELS[self.name]} {self.version}"

    @property
    def has_targets(self) -> bool:
        """Whether the builder takes compute-capability targets (TensorRT-RTX only)."""
        return self.name == RTX

    @property
    def network_flags(self) -> int:
        """``create_network`` flags for a strongly typed network: TensorRT 10 must ask for it."""
        if self.name == TENSORRT and self.major == 10:
            return 1 << int(self.module.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
        return 0

    def target(self, compute_capability: str) -> Any:
        """The library's ``ComputeCapability`` member for ``"8.6"`` etc. (TensorRT-RTX)."""
        return getattr(self.module.ComputeCapability, TARGETS[compute_capability])


def version_tuple(version: str) -> tuple[int, ...]:
    """``"10.3.0.26"`` -> ``(10, 3, 0, 26)``; non-digits are dropped from each part."""
    parts = []
    for piece in str(version).split("."):
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def import_library(name: str) -> TrtLib:
    """Import ``tensorrt`` or ``tensorrt_rtx`` and check nst supports its version.

    Raises:
        MissingDependencyError: Not installed (naming the extra), or a TensorRT major nst is
            not written for.
        InputError: ``name`` is neither library.
    """
    if name not in LIBRARIES:
        raise InputError(f"unknown TensorRT library {name!r} (known: {list(LIBRARIES)})")
    module = _try_import(name)
    if module is None:
        raise MissingDependencyError(
            f"{name} is not installed; install it with: pip install 'nst[{EXTRAS[name]}]'"
        )
    lib = TrtLib(name, module, str(getattr(module, "__version__", "0")))
    if lib.name == TENSORRT and lib.major not in TENSORRT_MAJORS:
        raise MissingDependencyError(
            f"nst needs TensorRT 10.x or 11.x, found {lib.version}; "
            "install one with: pip install 'tensorrt>=10,<12'"
        )
    return lib


def select_library(choice: str = "auto", *, targets: bool = False) -> TrtLib:
    """The library ``nst build-engine --trt CHOICE`` builds with.

    ``auto`` prefers ``tensorrt`` and falls back to ``tensorrt_rtx``; when compute-capability
    targets are asked for (``targets``) it prefers ``tensorrt_rtx``, the one that can honour
    them.

    Raises:
        InputError: Unknown choice.
        MissingDependencyError: The chosen library (or, for ``auto``, both) is missing.
    """
    if choice not in CHOICES:
        hint = did_you_mean(choice, CHOICES)
        raise InputError(f"--trt must be one of {list(CHOICES)}, got {choice!r}{hint}")
    if choice != "auto":
        return import_library(TENSORRT if choice == "tensorrt" else RTX)
    order = (RTX, TENSORRT) if targets else (TENSORRT, RTX)
    for name in order:
        if _try_import(name) is not None:
            return import_library(name)
    raise MissingDependencyError(
        "nst build-engine needs TensorRT: pip install 'nst[trt]' (TensorRT 10/11, builds on the target "
        "GPU) or 'nst[trt-rtx]' (TensorRT-RTX, builds for --compute-capability without a GPU)"
    )


def parse_compute_capability(text: str) -> str:
    """``"86"``, ``"8.6"``, ``"sm86"``, ``"SM_86"`` -> ``"8.6"``; one of :data:`TARGETS`.

    Raises:
        InputError: Listing the valid compute capabilities.
    """
    raw = str(text).strip().lower().removeprefix("sm").lstrip("_")
    if "." not in raw and raw.isdigit() and len(raw) >= 2:
        raw = f"{raw[:-1]}.{raw[-1]}"
    if raw not in TARGETS:
        valid = ", ".join(t.replace(".", "") for t in TARGETS)
        raise InputError(f"compute capability {text!r} is not one TensorRT-RTX targets; valid: {valid}")
    return raw


def _try_import(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
