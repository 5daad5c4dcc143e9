"""Style-swap layer on ONNX Runtime CPU: the old Conv/ConvTranspose swap vs the MatMul/Gather one.

    python scripts/bench_styleswap.py                      # content 256 and 512 px, style 256 px
    python scripts/bench_styleswap.py --sizes 256 --runs 3 --json /tmp/swap.json

Only the swap layer is timed, on relu3_1-shaped inputs (256 channels, 1/4 of the image side):
content (1, 256, S/4, S/4) and style (1, 256, Ss/4, Ss/4), random ReLU maps. Both layers are
exported with the dynamo exporter with every spatial axis dynamic, like the family's graph.
Each (layer, size) runs in a fresh subprocess, single-threaded by default, without ORT's memory
arena: CPU time per run (robust on a shared machine), wall time, and peak RSS above the loaded
session, i.e. what one swap allocates. Before timing, the two layers' outputs are compared.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nst.train.models.swap import style_swap

CHANNELS = 256  # relu3_1
STRIDE = 4


def old_style_swap(content: torch.Tensor, style: torch.Tensor, patch: int = 3) -> torch.Tensor:
    """The layer before issue 13 (commit bce805f): patches as the filters of a Conv (TensorRT
    cannot parse it: the filter count comes from the style input), one-hot argmax, ConvTranspose."""
    c, k = style.shape[1], patch * patch
    eye = torch.eye(k, dtype=style.dtype).reshape(k, 1, patch, patch)
    cols = F.conv2d(style.reshape(c, 1, *style.shape[2:]), eye).reshape(c, k, -1).permute(2, 0, 1)
    patches = cols.reshape(-1, c, patch, patch)  # (P, C, k, k)
    norms = patches.pow(2).sum(dim=(1, 2, 3), keepdim=True).sqrt()
    corr = F.conv2d(content, patches / (norms + 1e-8))  # (N, P, H', W')
    ids = torch.arange(patches.shape[0]).reshape(1, -1, 1, 1)
    one_hot = (ids == corr.argmax(dim=1, keepdim=True)).to(content.dtype)
    ones = torch.ones_like(one_hot[:, :1])
    overlaps = F.conv_transpose2d(ones, torch.ones(1, 1, patch, patch))
    return F.conv_transpose2d(one_hot, patches) / overlaps


class Swap(nn.Module):
    def __init__(self, layer: str) -> None:
        super().__init__()
        self.fn = old_style_swap if layer == "old" else style_swap

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.fn(content, style)


def feeds(size: int, style_size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(size)
    shapes = {"content": (1, CHANNELS, size // STRIDE, size // STRIDE),
              "style": (1, CHANNELS, style_size // STRIDE, style_size // STRIDE)}  # fmt: skip
    return {k: np.maximum(rng.standard_normal(s, dtype=np.float32), 0) for k, s in shapes.items()}


def export(layer: str, path: Path) -> None:
    from torch.export import Dim

    dims = {
        "content": {2: Dim("h", min=3), 3: Dim("w", min=3)},
        "style": {2: Dim("hs", min=3), 3: Dim("ws", min=3)},
    }
    example = (torch.rand(1, CHANNELS, 12, 14), torch.rand(1, CHANNELS, 10, 9))
    program = torch.onnx.export(
        Swap(layer).eval(), example, input_names=["content", "style"], output_names=["swapped"],
        dynamic_shapes=dims, dynamo=True, verbose=False,
    )  # fmt: skip
    assert program is not None
    program.save(str(path))


def _status_mib(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process. Not ``getrusage``: its ru_maxrss
    survives exec, so a child would report the exporting parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB
    return float("nan")


def child(path: Path, size: int, style_size: int, runs: int, threads: int) -> dict[str, float]:
    """Time one model in this process: wall and CPU time per run, peak RSS above the loaded session.

    No memory arena (its power-of-two growth would hide what the graph needs) and no spinning
    threads (so CPU time is work, which a loaded machine does not inflate the way it does wall time).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = False
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = feeds(size, style_size)
    base = _status_mib("VmRSS")
    wall, cpu = [], []
    for _ in range(runs + 1):  # the first run is warm-up
        start, start_cpu = time.perf_counter(), time.process_time()
        session.run(None, feed)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {
        "median_ms": 1e3 * statistics.median(wall[1:]),
        "min_ms": 1e3 * min(wall[1:]),
        "cpu_ms": 1e3 * statistics.median(cpu[1:]),
        "peak_extra_mib": _status_mib("VmHWM") - base,
    }


def max_diff(paths: dict[str, Path], size: int, style_size: int) -> float:
    import onnxruntime as ort

    feed = feeds(size, style_size)
    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in paths.values()]
    outs = [session.run(None, feed)[0] for session in sessions]
    return float(np.abs(outs[0] - outs[1]).max())


def run_child(path: Path, size: int, style_size: int, runs: int, threads: int) -> dict[str, float]:
    numbers = (size, style_size, runs, threads)
    cmd = [sys.executable, __file__, "--child", str(path), *(str(v) for v in numbers)]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def _summary(row: dict[str, Any]) -> str:
    return (
        "{layer} content {content}px style {style}px: wall median {median_ms:.0f} ms (min {min_ms:.0f}), "
        "CPU {cpu_ms:.0f} ms, peak +{peak_extra_mib:.0f} MiB, max |old - new| {max_abs_diff_old_new:.1e}"
    ).format(**row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="content image sides (px)")
    parser.add_argument("--style", type=int, default=256, help="style image side (px)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="ORT intra-op threads")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, *numbers = args.child
        print(json.dumps(child(Path(path), *(int(v) for v in numbers))))
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = {layer: Path(tmp) / f"{layer}.onnx" for layer in ("old", "new")}
        for layer, path in paths.items():
            export(layer, path)
        for size in args.sizes:
            diff = max_diff(paths, size, args.style)
            for layer, path in paths.items():
                timing = run_child(path, size, args.style, args.runs, args.threads)
                row = {"layer": layer, "content": size, "style": args.style, "threads": args.threads,
                       "max_abs_diff_old_new": diff, **timing}  # fmt: skip
                results.append(row)
                print(_summary(row))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
