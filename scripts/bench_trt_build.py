"""Engine builds of every family x FP32 / FP16 / INT8 with TensorRT-RTX for SM86 (no GPU needed).

    .venv/bin/python scripts/bench_trt_build.py [--out benchmarks/trt-build] [--widths paper|tiny]

Each family is exported with random weights at its paper widths (the config defaults; CIN and
StyleBank with 4 styles) or the tests' tiny widths, converted with nst's own FP16 conversion
and INT8 (Q/DQ) calibration, and each model is built by ``nst.runtime.trt.build.build_engine``
in a fresh child process with the family's own ExportSpec profiles (what ``nst build-engine``
uses by default). Per cell: build time (the ``build_engine`` call in the child; the fastest of
``--repeat`` builds), engine size and the child's peak RSS (its ``VmHWM``: Python + onnx +
tensorrt_rtx + the build). Writes ``OUT.json`` and ``OUT.md``; a failing cell records its error.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.runtime.trt.families: the tests' own export + conversion helpers

FAMILIES = ("johnson", "cin", "stylebank", "styleswap", "texture", "texture_style", "sr")
PRECISIONS = ("fp32", "fp16", "int8")
PAPER: dict[str, dict[str, Any]] = {
    "johnson": {}, "cin": {"num_styles": 4}, "stylebank": {"num_styles": 4}, "styleswap": {},
    "texture": {}, "texture_style": {}, "sr": {"scale": 4},
}  # fmt: skip


def child(model: str, plan: str, precision: str, targets: list[str]) -> None:
    """Build one engine; print one JSON line (seconds, bytes, profiles) or the error."""
    from nst.errors import NstError
    from nst.runtime.trt.build import build_engine
    from nst.runtime.trt.config import EngineConfig

    config = EngineConfig(fp16=precision == "fp16", int8=precision == "int8", library="rtx",
                          compute_capabilities=tuple(targets))  # fmt: skip
    started = time.perf_counter()
    try:
        result = build_engine(model, plan, config, force=True)
    except NstError as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}", "peak_rss_mb": peak_rss_mb()}))
        return
    print(json.dumps({
        "build_s": round(time.perf_counter() - started, 3), "engine_bytes": result.size_bytes,
        "library": result.sidecar.library_label, "profiles": [p.describe() for p in result.sidecar.profiles],
        "peak_rss_mb": peak_rss_mb(),
    }))  # fmt: skip


def peak_rss_mb() -> float | None:
    """This process's peak RSS since exec (``VmHWM``). ``getrusage``/``wait4`` would not do: Linux
    carries a forked child's ``ru_maxrss`` over from its parent (here one holding torch)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)  # kB
    return None


def run_child(model: Path, plan: Path, precision: str, targets: list[str]) -> dict[str, Any]:
    """One build in a fresh process, which reports its own peak RSS."""
    cmd = [sys.executable, __file__, "--child", str(model), str(plan), precision, *targets]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    lines = proc.stdout.strip().splitlines()
    last = lines[-1] if lines else ""
    if last.startswith("{"):
        return dict(json.loads(last))
    tail = (proc.stderr.strip().splitlines() or [""])[-1][:200]
    return {"error": f"build process exited {proc.returncode}: {tail}"}


def repeated(model: Path, plan: Path, precision: str, targets: list[str], repeat: int) -> dict[str, Any]:
    """``repeat`` builds, each in its own process: the fastest build time, every time, the largest RSS."""
    runs = [run_child(model, plan, precision, targets) for _ in range(repeat)]
    if any("error" in r for r in runs):
        return next(r for r in runs if "error" in r)
    best = dict(min(runs, key=lambda r: r["build_s"]))
    best["build_s_all"] = [r["build_s"] for r in runs]
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return best


def prepare(family: str, precision: str, folder: Path, widths: str) -> Path:
    """The family's model in ``precision`` (exported / converted once per family)."""
    from tests.runtime.trt.families import TINY, convert, export_family

    fp32 = folder / f"{family}.onnx"
    if not fp32.exists():
        export_family(family, fp32, PAPER[family] if widths == "paper" else TINY[family])
    if precision == "fp32":
        return fp32
    return convert(fp32, precision, folder / f"{family}.{precision}.onnx")


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from nst.errors import NstError

    cells = []
    with tempfile.TemporaryDirectory(prefix="nst-trt-bench-") as tmp:
        folder = Path(tmp)
        for family in args.families:
            for precision in args.precisions:
                cell: dict[str, Any] = {"family": family, "precision": precision}
                try:
                    model = prepare(family, precision, folder, args.widths)
                except (NstError, ValueError, RuntimeError) as exc:
                    cell["error"] = (
                        f"preparing the model: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                    )
                else:
                    cell["onnx_bytes"] = model.stat().st_size
                    plan = folder / f"{family}.{precision}.plan"
                    cell.update(repeated(model, plan, precision, args.targets, args.repeat))
                print(json.dumps(cell), flush=True)
                cells.append(cell)
    return {"cells": cells}


def markdown(result: dict[str, Any]) -> str:
    machine = result["machine"]
    lines = [
        "# TensorRT engine builds (TensorRT-RTX, no GPU)", "",
        f"Machine: {machine['cpu']} ({machine['cores']} cores), {machine['system']}; nst {machine['nst']}; "
        f"{machine.get('tensorrt_rtx', '?')}; {result['date']}", "",
        f"Command: `{result['command']}`", "",
        f"Targets: compute capability {', '.join(result['targets'])}; widths: {result['widths']} "
        f"({result['widths_note']}); profiles: each family's ExportSpec default; random weights.", "",
        f"Build s: the fastest of {result['repeat']} builds, each in a fresh process (all in the JSON); "
        "peak RSS: the largest VmHWM of those processes (Python + onnx + tensorrt_rtx + the build). "
        f"Load average {result['load_average_start']} at the start, {result['load_average_end']} at the end "
        "(a shared 2-core machine: other jobs ran alongside).", "",
        "| family | precision | build s | engine MB | ONNX MB | peak RSS MB | status |",
        "|---|---|---:|---:|---:|---:|---|",
    ]  # fmt: skip
    for c in result["cells"]:
        engine = f"{c['engine_bytes'] / 1e6:.2f}" if "engine_bytes" in c else "-"
        onnx = f"{c['onnx_bytes'] / 1e6:.2f}" if "onnx_bytes" in c else "-"
        status = "ok" if "error" not in c else c["error"].replace("|", "/")[:220]
        build = f"{c['build_s']:.2f}" if "build_s" in c else "-"
        row = [c["family"], c["precision"], build, engine, onnx, str(c.get("peak_rss_mb", "-")), status]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        model, plan, precision = sys.argv[2:5]
        child(model, plan, precision, sys.argv[5:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "trt-build")
    parser.add_argument("--widths", choices=("paper", "tiny"), default="paper")
    parser.add_argument("--family", dest="families", action="append", choices=FAMILIES)
    parser.add_argument("--precision", dest="precisions", action="append", choices=PRECISIONS)
    parser.add_argument("--compute-capability", dest="targets", action="append")
    parser.add_argument("--repeat", type=int, default=3, help="builds per cell (the fastest is reported)")
    args = parser.parse_args()
    args.families, args.precisions = args.families or list(FAMILIES), args.precisions or list(PRECISIONS)
    args.targets = args.targets or ["86"]
    import tensorrt_rtx

    from nst.measure import machine_description

    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "targets": args.targets, "widths": args.widths,
        "widths_note": "config defaults = the papers' widths; cin/stylebank 4 styles; sr x4"
        if args.widths == "paper" else "the tests' tiny configs (tests/runtime/trt/families.py)",
        "command": " ".join([".venv/bin/python", Path(sys.argv[0]).resolve().relative_to(REPO).as_posix(),
                             *sys.argv[1:]]),
        "machine": machine_description(versions={"tensorrt_rtx": f"TensorRT-RTX {tensorrt_rtx.__version__}"}),
        "repeat": args.repeat, "load_average_start": round(os.getloadavg()[0], 1),
        **measure(args),
    }  # fmt: skip
    result["load_average_end"] = round(os.getloadavg()[0], 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    failed = [f"{c['family']}/{c['precision']}" for c in result["cells"] if "error" in c]
    built = len(result["cells"]) - len(failed)
    print(f"wrote {args.out}.json and .md; {built} built, failed: {failed or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
