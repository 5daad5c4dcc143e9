"""Images/s of ``nst batch`` (Ray Data, local) against plain ``nst stylize`` on the same folder.

    .venv/bin/python scripts/bench_batch_ray.py                 # 64 images of 256x256, 3 repeats
    .venv/bin/python scripts/bench_batch_ray.py --images 32 --size 512 --repeats 2

The folder is made here from crops of the photo shipped in the package
(``nst/assets/sample_chelsea.jpg``) and stylized with the bundled model. Timed, each into a
fresh output folder:

* ``ray start``: ``ray.init()`` of a local instance on every CPU (once);
* ``stylize``: ``nst.runtime.stylize_job.stylize`` in this process (what ``nst stylize`` runs),
  and as a control the same Stylizer path with ONNX Runtime pinned to one thread;
* ``batch, N actor(s)``: ``nst.runtime.batch_ray.batch_stylize`` on that running Ray, for each
  pool shape (includes starting the actors and opening one model per actor);
  the repeats interleave these four runs, so drifting load on a shared machine hits all alike;
* ``cold CLI``: ``nst stylize`` and ``nst batch`` as subprocesses, start to exit (Python
  imports, Ray start and shutdown included): what a user waits for.

Writes benchmarks/batch-ray.json and benchmarks/batch-ray.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks"
MAIN = "import nst.cli.main, nst.cli.batch_cmd; from nst.cli.app import app; app()"


def make_corpus(folder: Path, n: int, size: int) -> Path:
    """``n`` square crops of the packaged photo, resized to ``size`` x ``size``."""
    from nst.runtime.stylizer import default_model_path

    photo = Image.open(default_model_path().parent / "sample_chelsea.jpg").convert("RGB")
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    w, h = photo.size
    for i in range(n):
        side = int(rng.integers(min(w, h) // 2, min(w, h)))
        x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
        crop = photo.crop((x, y, x + side, y + side)).resize((size, size), Image.Resampling.LANCZOS)
        crop.save(folder / f"photo{i:03d}.png")
    return folder


def timed(fn: Any, repeats: int, scratch: Path) -> list[float]:
    """Wall seconds of ``fn(out_dir)`` per repeat, each into a new folder."""
    times = []
    for r in range(repeats):
        out = scratch / f"out{time.monotonic_ns()}_{r}"
        t0 = time.perf_counter()
        fn(out)
        times.append(time.perf_counter() - t0)
        shutil.rmtree(out)
    return times


def cold(args: list[str], scratch: Path) -> float:
    out = scratch / f"cold{time.monotonic_ns()}"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", MAIN, *args, "-o", str(out), "--no-progress"], check=True,
                   capture_output=True, text=True)  # fmt: skip
    seconds = time.perf_counter() - t0
    shutil.rmtree(out)
    return seconds


def run(n: int, size: int, repeats: int) -> dict[str, Any]:
    import onnxruntime
    import ray

    from nst.jobs import plan_outputs
    from nst.measure import machine_description
    from nst.runtime.batch_ray import BatchOptions, batch_stylize
    from nst.runtime.registry import open_runner
    from nst.runtime.stylize_job import StylizeOptions, stylize
    from nst.runtime.stylizer import Stylizer, default_model_path

    load_before = os.getloadavg()[0]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        corpus = make_corpus(scratch / "photos", n, size)

        def add(name: str, times: list[float], note: str) -> None:
            best, median = min(times), statistics.median(times)
            rows.append({"run": name, "seconds": times, "median_s": median, "best_s": best,
                         "images_per_s": n / median, "note": note})  # fmt: skip
            print(f"{name}: {n / median:.2f} img/s (median {median:.2f}s of {len(times)})", flush=True)

        def one_thread(o: Path) -> None:  # nst stylize's path with ORT pinned to 1 thread (a control)
            with Stylizer(open_runner(default_model_path(), threads=1), batch_size=4) as stylizer:
                stylizer.run_jobs(plan_outputs([corpus], o))

        def pool(actors: int, cpus: float | None) -> Any:
            return lambda o: batch_stylize(BatchOptions(StylizeOptions((corpus,), o), actors=actors,
                                                        cpus_per_actor=cpus))  # fmt: skip

        t0 = time.perf_counter()
        ray.init(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
        rows.append({"run": "ray start", "seconds": [time.perf_counter() - t0], "note": "ray.init(), local"})
        print(f"ray start: {rows[-1]['seconds'][0]:.2f}s", flush=True)
        runs = {  # name -> (job, note); repeats interleave the runs so load drift hits all alike
            "stylize": (lambda o: stylize(StylizeOptions((corpus,), o)),
                        "nst stylize in-process: one ORT session (ORT's default threads), batch 4"),
            "stylize, 1 ORT thread": (one_thread, "control: the same Stylizer path, ORT pinned to 1 thread"),
            "batch, 1 actor": (pool(1, None), "Ray already up; 1 actor x 2 CPUs, 2 ORT threads, batch 4"),
            "batch, 2 actors": (pool(2, 1.0), "Ray already up; 2 actors x 1 CPU, 1 ORT thread each, batch 4"),
        }  # fmt: skip
        times: dict[str, list[float]] = {name: [] for name in runs}
        try:
            for _ in range(repeats):
                for name, (job, _note) in runs.items():
                    times[name] += timed(job, 1, scratch)
                    print(f"  {name}: {times[name][-1]:.2f}s", flush=True)
        finally:
            ray.shutdown()
        for name, (_job, note) in runs.items():
            add(name, times[name], note)
        add("cold CLI: nst stylize", [cold(["stylize", str(corpus)], scratch)], "subprocess, start to exit")
        add("cold CLI: nst batch", [cold(["batch", str(corpus), "--ray-address", "local"], scratch)],
            "subprocess: Python, Ray start, 1 actor, shutdown")  # fmt: skip
    versions = {"onnxruntime": onnxruntime.__version__, "ray": ray.__version__}
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_description(versions=versions),
        "load_average": [load_before, os.getloadavg()[0]],
        "command": " ".join(["python", "scripts/bench_batch_ray.py", *sys.argv[1:]]),
        "images": n, "size": size, "model": "default_model.onnx (bundled)", "runs": rows,
    }  # fmt: skip


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    base = next(r for r in result["runs"] if r["run"] == "stylize")["images_per_s"]
    lines = [
        "# nst batch (Ray Data) vs nst stylize", "",
        f"Machine: {m['cpu']} ({m['cores']} cores), {m['system']}; Python {m['python']}, nst {m['nst']}, "
        f"onnxruntime {m['onnxruntime']}, ray {m['ray']}; {result['date']}", "",
        f"Command: `{result['command']}`", "",
        f"Folder: {result['images']} PNGs of {result['size']}x{result['size']} (crops of the packaged "
        f"photo), bundled model; load average (1 min) before / after: {result['load_average'][0]:.2f} / "
        f"{result['load_average'][1]:.2f} (the machine is shared: every figure is slowed by other work).", "",
        "| run | images/s | vs stylize | median s | best s | runs | note |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]  # fmt: skip
    for r in result["runs"]:
        if "images_per_s" not in r:
            lines.append(f"| {r['run']} | | | {r['seconds'][0]:.2f} | | 1 | {r['note']} |")
            continue
        rate = r["images_per_s"]
        lines.append(
            f"| {r['run']} | {rate:.2f} | {rate / base:.2f}x | {r['median_s']:.2f} | {r['best_s']:.2f} | "
            f"{len(r['seconds'])} | {r['note']} |"
        )
    by = {r["run"]: r for r in result["runs"]}
    job = by["batch, 1 actor"]["median_s"] - by["stylize"]["median_s"]
    start = by["ray start"]["seconds"][0]
    lines += [
        "", f"Fixed cost of a Ray job over nst stylize (1 actor, same threads): {job:.1f} s (actor start, "
        f"one model per actor, Ray Data scheduling); starting a local Ray: {start:.1f} s more (the cold "
        "CLI rows include it and its shutdown). Compare the best `batch` row with the 1-thread control "
        "to see how much of a pool's speed on one machine comes from its thread layout rather than Ray.",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    result = run(args.images, args.size, args.repeats)
    OUT.mkdir(exist_ok=True)
    (OUT / "batch-ray.json").write_text(json.dumps(result, indent=2) + "\n")
    (OUT / "batch-ray.md").write_text(markdown(result))
    print(f"wrote {OUT / 'batch-ray.md'}")


if __name__ == "__main__":
    main()
