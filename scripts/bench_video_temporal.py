"""Flicker of a temporally trained net vs frame-by-frame and flow blending (issue 16).

    .venv/bin/python scripts/bench_video_temporal.py init      # bundled ONNX -> runs/temporal/init.pt
    .venv/bin/python scripts/bench_video_temporal.py measure   # E_warp + fps -> benchmarks/video.{md,json}
    .venv/bin/python scripts/bench_video_temporal.py strip     # docs/images/video_strip.jpg

The two nets compared are fine-tuned from the bundled model with the same seed, data and step
count, with and without ``--temporal-weight`` (commands in docs/VIDEO.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / "runs" / "temporal"


def onnx_to_checkpoint(model: Path, out: Path) -> None:
    """Rebuild a johnson checkpoint from an exported model's initializers and metadata.

    The bundled model ships as ONNX only; its initializers carry the PyTorch parameter names,
    so the state dict is read back exactly (checked: the rebuilt net matches ORT's output).
    """
    import json

    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    from nst.train.checkpoint import save_checkpoint
    from nst.train.models import build_model

    proto = onnx.load(str(model))
    meta = {p.key: p.value for p in proto.metadata_props}
    family, model_config = meta["nst.family"], json.loads(meta["nst.model_config"])
    net = build_model(family, model_config)
    weights = {i.name: torch.from_numpy(np.array(numpy_helper.to_array(i))) for i in proto.graph.initializer}
    state = {k: weights[k] for k in net.state_dict()}
    net.load_state_dict(state)
    save_checkpoint(out, {
        "family": family, "model_config": model_config, "train_config": json.loads(meta["nst.train_config"]),
        "styles": json.loads(meta["nst.styles"]), "state_dict": net.state_dict(),
        "step": int(meta.get("nst.train_step", 0)), "history": {"step": []},
    })  # fmt: skip
    _check_parity(net, model)


def _check_parity(net: object, model: Path) -> None:
    import numpy as np
    import onnxruntime as ort
    import torch

    x = np.random.default_rng(0).random((1, 3, 67, 91), dtype=np.float32)
    ref = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    with torch.no_grad():
        got = net.eval()(torch.from_numpy(x)).numpy()  # type: ignore[attr-defined]
    diff = float(np.abs(ref - got).max())
    if diff > 1e-4:
        raise SystemExit(f"rebuilt net differs from {model} by {diff}")
    print(f"rebuilt checkpoint matches the ONNX model (max abs diff {diff:.2g})")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("init", "measure", "strip"))
    args = parser.parse_args()
    if args.what == "init":
        RUNS.mkdir(parents=True, exist_ok=True)
        onnx_to_checkpoint(REPO / "nst" / "assets" / "default_model.onnx", RUNS / "init.pt")
        print(f"-> {RUNS / 'init.pt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
