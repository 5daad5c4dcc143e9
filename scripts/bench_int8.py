"""ORT CPU latency of FP32 vs INT8 (Q/DQ) models: p50 over interleaved runs at several sizes.

Each size times every model in turn (fp32, int8, ..., fp32, ...) so a busy machine slows them
alike (:func:`nst.calibration.report.measure_latency`), batch 1, after 2 warm-up runs. Writes
JSON and prints a markdown table with each model's ratio to the first one::

    python scripts/bench_int8.py fp32=nst/assets/default_model.onnx int8=runs/default.int8.onnx \\
        --sizes 256 512 --threads 2 --runs 20 -o docs/calibration/default/latency.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nst.calibration.report import measure_latency
from nst.measure import machine_description


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("models", nargs="+", help="LABEL=PATH; the first is the reference (FP32)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--threads", type=int, default=2, help="ORT intra-op threads")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per model and size")
    parser.add_argument("-o", "--output", type=Path, help="JSON results")
    args = parser.parse_args(argv)
    models = dict(_label(m) for m in args.models)
    reference = next(iter(models))
    results = {str(s): measure_latency(models, s, args.runs, args.threads) for s in args.sizes}
    print(f"| model | {' | '.join(f'{s}² p50 ms (× {reference})' for s in args.sizes)} |")
    print(f"|---|{'---|' * len(args.sizes)}")
    for label in models:
        cells = [
            f"{r[label]['median_ms']:.1f} ({r[label]['median_ms'] / r[reference]['median_ms']:.2f}×)"
            for r in results.values()
        ]  # fmt: skip
        print(f"| {label} | {' | '.join(cells)} |")
    if args.output is not None:
        data = {
            "models": {k: str(v) for k, v in models.items()}, "threads": args.threads, "runs": args.runs,
            "batch": 1, "p50_is": "median of the interleaved runs", "latency_ms": results,
            "machine": machine_description(versions={"onnxruntime": _ort_version()}, threads=args.threads),
        }  # fmt: skip
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(data, indent=2) + "\n")


def _ort_version() -> str:
    import onnxruntime

    return str(onnxruntime.__version__)


def _label(text: str) -> tuple[str, Path]:
    label, sep, path = text.partition("=")
    if not sep or not label or not Path(path).is_file():
        raise SystemExit(f"expected LABEL=PATH with an existing file, got {text!r}")
    return label, Path(path)


if __name__ == "__main__":
    main()
