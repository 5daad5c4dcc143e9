"""Freeze one style of a CIN model into a single-style ONNX graph (for ``nst eval``).

``nst eval`` scores single-style models (one ``image`` input). A CIN graph takes
``style_weights`` [S] as well; this script turns that input into a constant one-hot
initializer for the chosen style and rewrites the ``nst.io``/``nst.styles`` metadata to
match, so every style of the multi-style default can be scored against Gatys:

    python scripts/bake_style.py nst/assets/multistyle_model.onnx --style mosaic -o runs/cin4/mosaic.onnx

The weights are untouched; the output for a photo equals the multi-style model's with
``--style NAME`` (checked here, max abs diff printed).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from nst.contract.metadata import ModelMetadata
from nst.errors import InputError
from nst.runtime.style_inputs import WEIGHTS, style_index


def bake_style(model_path: Path, style: str, output: Path) -> Path:
    """Write ``output``: ``model_path`` with ``style_weights`` fixed to ``style``'s one-hot row."""
    model = onnx.load(str(model_path))
    props = {p.key: p.value for p in model.metadata_props}
    meta = ModelMetadata.from_props(props, str(model_path))
    specs = {t.name: t for t in meta.spec.inputs}
    if WEIGHTS not in specs or len(specs) != 2:
        raise InputError(f"{model_path} is not a CIN-style model (inputs {list(specs)})")
    count = int(specs[WEIGHTS].shape[0])
    index = style_index(style, meta.styles, count)
    weights = np.eye(count, dtype=np.float32)[index]
    graph_inputs = [i for i in model.graph.input if i.name != WEIGHTS]
    del model.graph.input[:]
    model.graph.input.extend(graph_inputs)
    model.graph.initializer.append(numpy_helper.from_array(weights, WEIGHTS))
    spec = replace(meta.spec, inputs=tuple(t for t in meta.spec.inputs if t.name != WEIGHTS))
    name = meta.styles[index] if index < len(meta.styles) else f"style {index}"
    baked = replace(meta, styles=(name,), spec=spec,
                    extra={**meta.extra, "nst.baked_from": json.dumps([model_path.name, index])})  # fmt: skip
    del model.metadata_props[:]
    for key, value in baked.to_props().items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(output))
    return output


def max_diff(model_path: Path, style: str, baked: Path) -> float:
    """Max abs difference between the multi-style model with ``style`` and the baked one."""
    from nst.runtime.stylizer import Stylizer

    photo = np.random.default_rng(0).uniform(0, 1, (1, 3, 40, 56)).astype(np.float32)
    with Stylizer(model_path, providers="cpu", style=style) as multi, Stylizer(baked, providers="cpu") as one:
        return float(np.abs(multi.stylize_batch(photo) - one.stylize_batch(photo)).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--style", required=True, help="style name or index")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    out = bake_style(args.model, args.style, args.output)
    diff = max_diff(args.model, args.style, out)
    print(f"{out}: style {args.style}, max abs diff vs the multi-style model {diff:.2e}")


if __name__ == "__main__":
    main()
