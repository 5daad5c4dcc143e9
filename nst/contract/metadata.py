"""``metadata_props`` written into every exported model and read back by the runtime.

Keys (values are strings; JSON where structured):

=================  ==========================================================
nst.family         model family, e.g. ``johnson``
nst.styles         JSON list of style names, in style-index order
nst.io             JSON of the ExportSpec (inputs, outputs, sizes, profile)
nst.version        nst version that exported the model
nst.model_config   JSON of the family's model config
nst.train_config   JSON of the TrainConfig the weights were trained with
nst.train_step     training step of the exported weights
=================  ==========================================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nst.contract.spec import ExportSpec
from nst.errors import ModelError

PREFIX = "nst."


@dataclass(frozen=True)
class ModelMetadata:
    """Typed view of an exported model's nst metadata."""

    family: str
    styles: tuple[str, ...]
    spec: ExportSpec
    version: str
    extra: dict[str, str]

    def to_props(self) -> dict[str, str]:
        return {
            "nst.family": self.family,
            "nst.styles": json.dumps(list(self.styles)),
            "nst.io": self.spec.to_json(),
            "nst.version": self.version,
            **self.extra,
        }

    @classmethod
    def from_props(cls, props: dict[str, str], source: str = "model") -> ModelMetadata:
        """Parse metadata; raises :class:`ModelError` when the nst keys are absent or broken."""
        missing = [k for k in ("nst.family", "nst.io") if k not in props]
        if missing:
            raise ModelError(
                f"{source} has no nst metadata ({', '.join(missing)}); export it with `nst export`"
            )
        try:
            spec = ExportSpec.from_json(props["nst.io"])
            styles = tuple(json.loads(props.get("nst.styles", "[]")))
        except (ValueError, TypeError, KeyError) as exc:
            raise ModelError(f"{source} has malformed nst metadata: {exc}") from exc
        extra = {k: v for k, v in props.items() if k.startswith(PREFIX) and k not in
                 ("nst.family", "nst.styles", "nst.io", "nst.version")}  # fmt: skip
        return cls(props["nst.family"], styles, spec, props.get("nst.version", "?"), extra)

    def describe(self) -> dict[str, Any]:
        """JSON-friendly summary for ``nst info``."""
        extra = {}
        for k, v in self.extra.items():
            try:
                extra[k] = json.loads(v)
            except ValueError:
                extra[k] = v
        return {
            "family": self.family,
            "styles": list(self.styles),
            "version": self.version,
            **extra,
        }
