"""The human side of an :class:`~nst.bench.evaluate.EvalReport`: a markdown page and a grid."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from nst.bench.evaluate import EvalReport

LOSSES = ("content", "style", "tv", "total")
HEADER = 22  # px of label strip above the grid


def grid_image(rows: list[list[np.ndarray]], labels: list[str], pad: int = 4) -> np.ndarray:
    """Tile rows of (H, W, 3) images in [0, 1] under a label strip; white gaps.

    Args:
        rows: One list per photo, one image per column (sizes may differ a little).
        labels: Column titles.
        pad: Gap in pixels.

    Returns:
        (H', W', 3) float32 in [0, 1].
    """
    h = max(im.shape[0] for row in rows for im in row)
    w = max(im.shape[1] for row in rows for im in row)
    cols = max(len(row) for row in rows)
    grid = np.ones((HEADER + len(rows) * (h + pad) + pad, cols * (w + pad) + pad, 3), np.float32)
    for i, row in enumerate(rows):
        for j, im in enumerate(row):
            y, x = HEADER + pad + i * (h + pad), pad + j * (w + pad)
            grid[y : y + im.shape[0], x : x + im.shape[1]] = np.clip(im, 0, 1)
    canvas = Image.fromarray((grid * 255).round().astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for j, label in enumerate(labels):
        draw.text((pad + j * (w + pad) + 2, 5), label, fill=(0, 0, 0))
    return np.asarray(canvas, np.float32) / 255.0


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.1f} s"


def markdown(report: EvalReport) -> str:
    """The report as a markdown page: setup, means, the target verdict, per-photo table, grid."""
    summary = report.summary()
    means = summary["means"]
    model_s = means["model"]["seconds"]
    ref = summary.get("target", {}).get("reference")
    objective = ", ".join(f"{k} {v}" for k, v in report.objective.items())
    size = f"short side {report.size} px" if report.size else "native size"
    lines = [
        f"# Quality: `{report.model}` vs Gatys et al.",
        "",
        f"- Photos: {len(report.images)} from `{report.content}` ({size}); style `{report.style}`.",
        f"- Objective ({report.objective_source}): {objective}.",
        "- Gatys: L-BFGS (strong Wolfe line search) on the pixels, initialised with the photo, seed 0; "
        "iterations " + ", ".join(map(str, report.iters)) + " are snapshots of one run.",
        f"- Machine: {report.machine['cpu']}, {report.machine['cores']} CPU cores, "
        f"torch {report.machine['torch']} ({report.machine['threads']} threads), "
        f"onnxruntime {report.machine['onnxruntime']}.",
        "- Losses are the weighted terms of the training objective (lower is better); times are "
        "per image (model: median of 3 warm runs; Gatys: wall time to reach the iteration).",
    ]
    if any(s.cached for image in report.images for s in image.scores):
        lines.append("- Some Gatys results (and their times) were reused from the Gatys cache.")
    ref_total = means[ref]["total"] if ref else None
    lines += ["", "## Means over photos", "",
              "| method | content | style | tv | total | total / " + (ref or "-") + " | time / image "
              "| time / model time |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for method, m in means.items():
        ratio = _fmt(m["total"] / ref_total) if ref_total else "-"
        cells = [method, *(_fmt(m[k]) for k in LOSSES), ratio, _seconds(m["seconds"]),
                 f"{m['seconds'] / model_s:.0f}x"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *_verdict(summary), "", "## Per photo", "",
              "| photo | size | method | content | style | tv | total | time |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for image in report.images:
        for s in image.scores:
            cells = [image.name, f"{image.width}x{image.height}", s.method,
                     *(_fmt(s.losses[k]) for k in LOSSES), _seconds(s.seconds)]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    iters = ",".join(map(str, report.iters))
    limit = f" --limit {report.limit}" if report.limit else ""
    lines += ["", "![content | model | Gatys](grid.png)", "",
              f"Columns: content | {' | '.join(report.methods)}.", "", "Regenerate:", "", "```bash",
              f"nst eval {report.model} --content {report.content} --style {report.style} "
              f"--size {report.size} --iters {iters}{limit} -o {report.out_dir} --force",
              "```", ""]  # fmt: skip
    return "\n".join(lines)


def _verdict(summary: dict) -> list[str]:
    target = summary.get("target")
    if target is None:
        return ["Target: not checked (needs Gatys-100 in --iters)."]
    word = "**met**" if target["met"] else "**missed**"
    return [
        f"## Target: total loss <= {target['max_loss_ratio']}x {target['reference']} "
        f"at >= {target['min_speedup']:.0f}x less time",
        "",
        f"{word}: loss ratio {target['loss_ratio']:.3f} (target <= {target['max_loss_ratio']}), "
        f"speed-up {target['speedup']:.0f}x (target >= {target['min_speedup']:.0f}x).",
    ]
