"""Load test of ``nst serve`` on loopback: steady concurrent clients, then a burst past the queue bound.

Starts ``nst serve`` (the bundled model unless ``--model``) as its own process on 127.0.0.1,
runs ``--clients`` concurrent httpx clients for ``--duration`` seconds over mixed image
sizes, then sends ``--burst`` requests at once, which must overflow the queue into clean
503s. Everything is bounded: the duration, the burst, a watchdog on the whole run; the
server is stopped with SIGTERM at the end. Writes ``<out>.json`` and ``<out>.md``.

    .venv/bin/python scripts/load_serve.py                       # 16 clients, 60 s, burst 160
    .venv/bin/python scripts/load_serve.py --duration 10 --out /tmp/serve   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # loopback only
SERVE = [sys.executable, "-c", "import nst.cli.serve_cmd; from nst.cli.main import app; app()", "serve"]
SIZES = ((256, 256), (384, 512), (512, 512))  # width x height
LIMITS = {"clients": 64, "duration": 600.0, "burst": 1000}


def photos(sizes: tuple[tuple[int, int], ...]) -> dict[str, bytes]:
    """The bundled sample photo resized to each size, as JPEG (what clients usually send)."""
    source = Image.open(REPO / "nst" / "assets" / "sample_chelsea.jpg").convert("RGB")
    out = {}
    for w, h in sizes:
        buffer = io.BytesIO()
        source.resize((w, h), Image.Resampling.LANCZOS).save(buffer, format="JPEG", quality=90)
        out[f"{w}x{h}"] = buffer.getvalue()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_server(args: argparse.Namespace, port: int) -> subprocess.Popen:
    options = {"--host": HOST, "--port": port, "--max-batch": args.max_batch,
               "--batch-wait-ms": args.batch_wait_ms, "--queue-size": args.queue_size,
               "--timeout-s": args.timeout_s, "--log-level": "warning"}  # fmt: skip
    cmd = [*SERVE, *([str(args.model)] if args.model else [])]
    for flag, value in options.items():
        cmd += [flag, str(value)]
    process = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"nst serve exited: {process.communicate()[1][-2000:]}")
        try:
            if httpx.get(f"http://{HOST}:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("nst serve did not become ready in 60 s")


def batch_histogram(url: str) -> dict[int, int]:
    """Inference calls per batch size, from the server's Prometheus histogram."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    pattern = r'nst_serve_batch_size_bucket\{model="[^"]*",le="([0-9.]+)"\} (\d+)'
    cumulative = {int(float(le)): int(n) for le, n in re.findall(pattern, text)}
    out, previous = {}, 0
    for size in sorted(cumulative):
        out[size], previous = cumulative[size] - previous, cumulative[size]
    return out


def diff(after: dict[int, int], before: dict[int, int]) -> dict[str, int]:
    return {str(k): after.get(k, 0) - before.get(k, 0) for k in sorted(after)}


async def one(client: httpx.AsyncClient, name: str, data: bytes, log: list[dict]) -> None:
    start = time.perf_counter()
    try:
        r = await client.post("/v1/stylize", files={"image": (f"{name}.jpg", data, "image/jpeg")})
        status, retry = r.status_code, r.headers.get("retry-after")
        error = None if r.status_code in (200, 503) else r.text[:200]
        if r.status_code == 503 and (retry is None or "error" not in r.json()):
            error = "503 without Retry-After or JSON error"
    except httpx.HTTPError as exc:
        status, error = 0, f"{type(exc).__name__}: {exc}"
    log.append({"size": name, "status": status, "seconds": time.perf_counter() - start, "error": error})


async def steady(
    url: str, images: dict[str, bytes], clients: int, duration: float
) -> tuple[list[dict], float]:
    """``clients`` loops, each sending the sizes in turn until ``duration`` is over."""
    log: list[dict] = []
    names = list(images)
    stop = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def loop(client: httpx.AsyncClient, k: int) -> None:
        i = k
        while time.perf_counter() < stop:
            name = names[i % len(names)]
            await one(client, name, images[name], log)
            i += 1

    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await asyncio.gather(*(loop(client, k) for k in range(clients)))
    return log, time.perf_counter() - start


async def burst(url: str, data: bytes, count: int) -> tuple[list[dict], float]:
    """``count`` requests of one size at once."""
    log: list[dict] = []
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await asyncio.gather(*(one(client, "burst", data, log) for _ in range(count)))
    return log, time.perf_counter() - start


def summarise(log: list[dict], seconds: float) -> dict:
    ok = [e["seconds"] * 1e3 for e in log if e["status"] == 200]
    rejected = [e["seconds"] * 1e3 for e in log if e["status"] == 503]
    pct = (lambda q: round(float(np.percentile(ok, q)), 1)) if ok else (lambda q: None)
    per_size = {}
    for name in sorted({e["size"] for e in log}):
        times = [e["seconds"] * 1e3 for e in log if e["size"] == name and e["status"] == 200]
        if times:
            per_size[name] = {"ok": len(times), "p50_ms": round(float(np.percentile(times, 50)), 1),
                              "p95_ms": round(float(np.percentile(times, 95)), 1)}  # fmt: skip
    return {
        "seconds": round(seconds, 2), "requests": len(log), "ok": len(ok),
        "throughput_rps": round(len(ok) / seconds, 2),
        "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
        "statuses": {str(k): v for k, v in sorted(Counter(e["status"] for e in log).items())},
        "rejected_p50_ms": round(float(np.percentile(rejected, 50)), 1) if rejected else None,
        "rejected_max_ms": round(max(rejected), 1) if rejected else None,
        "failed": sum(1 for e in log if e["error"]),
        "errors": sorted({e["error"] for e in log if e["error"]})[:5],
        "per_size": per_size,
    }  # fmt: skip


def direct_latency(model: Path | None, images: dict[str, bytes]) -> dict[str, float]:
    """p50 ms of one ``Runner.infer`` per size, batch 1 (the model alone, for comparison)."""
    from nst.io import read_image
    from nst.measure import time_fn
    from nst.runtime.registry import open_runner
    from nst.runtime.stylizer import default_model_path

    out = {}
    with open_runner(model or default_model_path(), providers="cpu") as runner:
        for name, data in images.items():
            path = Path("/tmp") / f"nst-load-{name}.jpg"
            path.write_bytes(data)
            batch = np.ascontiguousarray(read_image(path).rgb.transpose(2, 0, 1)[None])
            path.unlink()
            times = time_fn(lambda b=batch: runner.infer({runner.spec.inputs[0].name: b}), min_runs=5)
            out[name] = round(float(np.median(times)) * 1e3, 1)
    return out


def run(args: argparse.Namespace) -> dict:
    from nst.measure import machine_description

    images = photos(SIZES)
    load_before = round(os.getloadavg()[0], 2)
    direct = direct_latency(args.model, images)
    port = free_port()
    url = f"http://{HOST}:{port}"
    server = start_server(args, port)
    try:
        before = batch_histogram(url)
        steady_log, steady_s = asyncio.run(steady(url, images, args.clients, args.duration))
        middle = batch_histogram(url)
        time.sleep(1.0)  # let the steady phase's last answers go
        burst_log, burst_s = asyncio.run(burst(url, images["256x256"], args.burst))
        after = batch_histogram(url)
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=args.timeout_s + 30)
    import onnxruntime

    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load_average": [load_before, round(os.getloadavg()[0], 2)],
        "machine": machine_description(versions={"onnxruntime": onnxruntime.__version__}),
        "command": " ".join(["python", "scripts/load_serve.py", *sys.argv[1:]]),
        "model": str(args.model or "bundled default_model.onnx"),
        "server": {
            "max_batch": args.max_batch,
            "batch_wait_ms": args.batch_wait_ms,
            "queue_size": args.queue_size,
            "timeout_s": args.timeout_s,
            "exit_code": server.returncode,
            "summary": out.strip().splitlines()[-1] if out.strip() else "",
        },
        "direct_infer_p50_ms": direct,
        "steady": {
            "clients": args.clients,
            "sizes": list(images),
            **summarise(steady_log, steady_s),
            "batch_sizes": diff(middle, before),
        },
        "burst": {
            "requests_at_once": args.burst,
            "size": "256x256",
            **summarise(burst_log, burst_s),
            "batch_sizes": diff(after, middle),
        },
    }


def markdown(r: dict) -> str:
    m, s, b, cfg = r["machine"], r["steady"], r["burst"], r["server"]
    lines = [
        "# nst serve: load test on loopback", "",
        f"Machine: {m['cpu']} ({m['cores']} cores), {m['system']}; Python {m['python']}, nst {m['nst']}, "
        f"onnxruntime {m.get('onnxruntime', '?')}; {r['date']}", "",
        f"Command: `{r['command']}`", "",
        f"Server: `nst serve` ({r['model']}), max batch {cfg['max_batch']}, "
        f"batch wait {cfg['batch_wait_ms']} ms, queue {cfg['queue_size']}, timeout {cfg['timeout_s']} s; "
        "client and server share the machine.", "",
        f"Load average (1 min) before / after: {r['load_average'][0]} / {r['load_average'][1]} "
        "(other work on the machine slows every figure here).", "",
        "| phase | requests | 200 | 503 | failed | throughput req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for name, p in (("steady", s), ("burst", b)):
        label = f"{name}: {s['clients']} clients, {s['seconds']:.0f} s" if name == "steady" else \
            f"burst: {b['requests_at_once']} at once"  # fmt: skip
        counts = f"{p['requests']} | {p['ok']} | {p['statuses'].get('503', 0)} | {p['failed']}"
        lines.append(
            f"| {label} | {counts} | {p['throughput_rps']} | {p['p50_ms']} | {p['p95_ms']} | {p['p99_ms']} |"
        )
    lines += ["", "Steady phase by size (the model alone, one image per call, for comparison):", "",
              "| size | 200 | p50 ms | p95 ms | model alone p50 ms |",
              "|---|---:|---:|---:|---:|"]  # fmt: skip
    for name, p in s["per_size"].items():
        lines.append(
            f"| {name} | {p['ok']} | {p['p50_ms']} | {p['p95_ms']} | {r['direct_infer_p50_ms'][name]} |"
        )
    lines += ["", "Inference calls by batch size (server metrics):", "", "| phase | " +
              " | ".join(f"batch {k}" for k in s["batch_sizes"]) + " |",
              "|---|" + "---:|" * len(s["batch_sizes"])]  # fmt: skip
    for name, p in (("steady", s), ("burst", b)):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in p["batch_sizes"].values()) + " |")
    if b["rejected_p50_ms"] is not None:
        lines += ["", f"Burst: the {b['statuses'].get('503', 0)} answers 503 (with Retry-After) came back in "
                  f"{b['rejected_p50_ms']} ms (median), {b['rejected_max_ms']} ms at most."]  # fmt: skip
    lines += ["", f"Server exit code after SIGTERM: {cfg['exit_code']} (`{cfg['summary']}`).", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model to serve (default: the bundled one)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=60.0, help="steady phase, seconds")
    parser.add_argument("--burst", type=int, default=160, help="requests sent at once after the steady phase")
    parser.add_argument("--max-batch", type=int, default=4)
    parser.add_argument("--batch-wait-ms", type=float, default=5.0)
    parser.add_argument("--queue-size", type=int, default=64)
    parser.add_argument("--timeout-s", type=float, default=60.0)
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "serve", help="writes OUT.json, OUT.md"
    )
    args = parser.parse_args()
    for name, most in LIMITS.items():
        if not 0 < getattr(args, name) <= most:
            parser.error(f"--{name} must be in (0, {most}]")
    signal.alarm(int(args.duration + 4 * args.timeout_s + 300))  # watchdog: the whole run is bounded
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    ok = result["steady"]["failed"] == 0 and result["burst"]["failed"] == 0
    ok = ok and result["steady"]["statuses"] == {"200": result["steady"]["requests"]}
    ok = ok and "503" in result["burst"]["statuses"]
    print("load test", "passed" if ok else "FAILED: steady phase must be all 200, the burst 200/503 only")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
