"""Export a family's net with random weights: an ONNX file for speed work, not for images.

``nst bench`` times the work of a network, which its weights do not change. This writes a
checkpoint of a freshly initialised net (step 0, marked ``"untrained": true`` in its train
config) and exports it with the usual validation, e.g. the full-width Johnson et al. net for
the GPU bench target (docs/GPU_TODO.md row 9)::

    python scripts/export_untrained.py johnson -m base_channels=32 -m num_residual=5 \\
        -o /tmp/johnson_full.onnx

or the fast layout timed against the CPU peer in docs/FAST_NET.md (``-m variant=fast``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from nst.cli.app import parse_key_values
from nst.config import config_to_dict
from nst.export.onnx_export import export_checkpoint
from nst.train.checkpoint import save_checkpoint
from nst.train.models import build_model


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("family")
    parser.add_argument("-m", "--model", action="append", default=[], help="KEY=VALUE model config")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--styles", type=int, default=1, help="style names to record (multi-style nets)")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    net = build_model(args.family, parse_key_values(args.model, "-m"))
    checkpoint = args.output.with_suffix(".untrained.pt")
    save_checkpoint(checkpoint, {
        "family": args.family, "model_config": config_to_dict(net.config),
        "train_config": {"untrained": True}, "styles": [f"style_{i}" for i in range(args.styles)],
        "state_dict": net.state_dict(), "optimizer": {}, "step": 0, "history": [], "rng": {},
    })  # fmt: skip
    result = export_checkpoint(checkpoint, args.output, force=args.force)
    checkpoint.unlink()
    worst = max(c.max_abs_diff for c in result.checks)
    params = sum(p.numel() for p in net.parameters())
    where = f"{result.path}, max |onnx - torch| {worst:.1e}"
    print(f"exported untrained {args.family} ({params:,} parameters) -> {where}")


if __name__ == "__main__":
    main()
