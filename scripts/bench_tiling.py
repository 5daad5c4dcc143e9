"""Tiling benchmark: time and peak RSS of ``nst stylize`` on 12, 48 and 100 MP photos, and how
close exact-statistics strips, thumbnail statistics and naive per-tile statistics come to one pass.

    nice -n 10 .venv/bin/python scripts/bench_tiling.py                  # all cases, --max-memory 4G
    nice -n 10 .venv/bin/python scripts/bench_tiling.py --sizes 12 --max-memory 4G

Photos: a 2x2 mosaic of four photos in data/content, cropped to 4:3 and upscaled (bicubic) to
4000x3000, 8000x6000 and 11548x8660, saved as JPEG (quality 95). Every run is a fresh
``nst stylize`` subprocess with the bundled model; its peak RSS is the child's ``ru_maxrss``
(= VmHWM) from ``os.wait4``. The 12 MP photo also runs in one pass (``--tile off``, big budget)
as the reference; outputs compared are PNG (lossless). Naive per-tile statistics run the
original model on the same strips (halo cropped), each strip normalising itself. Seam score:
mean |row r - row r-1| over strip boundaries r, divided by the one-pass output's at the same
rows (1.0: no seam). Results: benchmarks/tiling.json and benchmarks/tiling.md.
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

import numpy as np
from PIL import Image

from nst.measure import machine_description

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks"
SIZES = {12: (4000, 3000), 48: (8000, 6000), 100: (11548, 8660)}
MOSAIC = ("china", "coffee", "motorcycle_left", "rocket")
NST = [sys.executable, "-m", "nst.cli.main"]
NAIVE_ROWS = 512  # strips of the naive per-strip baseline (and the row the seam figure shows)


def make_photo(size: tuple[int, int], dest: Path) -> Path:
    """The 4:3 mosaic upscaled to ``size`` (cached)."""
    if dest.exists():
        return dest
    tiles = [
        Image.open(REPO / "data" / "content" / f"{n}.png").convert("RGB").resize((768, 512)) for n in MOSAIC
    ]
    mosaic = Image.new("RGB", (1536, 1024))
    for i, tile in enumerate(tiles):
        mosaic.paste(tile, ((i % 2) * 768, (i // 2) * 512))
    mosaic = mosaic.crop((85, 0, 85 + 1365, 1024))  # 4:3
    Image.MAX_IMAGE_PIXELS = None
    mosaic.resize(size, Image.Resampling.BICUBIC).save(dest, quality=95)
    return dest


def run_case(args: list[str]) -> dict[str, Any]:
    """Run ``nst stylize ARGS`` in a fresh process: wall seconds and peak RSS (MiB)."""
    load = round(os.getloadavg()[0], 1)  # the box is shared: other jobs' load slows the timings
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*NST, "stylize", *args, "--force", "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    code = os.waitstatus_to_exitcode(status)
    record = {
        "args": " ".join(["nst", "stylize", *args]),
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "exit": code,
        "load_at_start": load,
        "message": (out + err).strip()[-300:],
    }
    print(json.dumps(record), flush=True)
    return record


def strip_rows(size: tuple[int, int], budget: str, stats: str) -> int:
    """The strip height ``nst stylize --tile auto --max-memory budget`` picks for ``size``."""
    from nst.runtime.stylizer import Stylizer

    with Stylizer(tile="auto", max_memory=budget, tile_stats=stats) as s:
        return s.planner.decide(*size).strip_rows


def naive(source: Path, target: Path, rows: int, halo: int) -> None:
    """Per-strip statistics: the original model on each strip (with ``halo``), crop, paste."""
    from nst.io import read_image, write_image
    from nst.runtime.stylizer import Stylizer

    image = read_image(source, max_pixels=10**9).rgb
    out = np.empty_like(image)
    with Stylizer(tile="off") as s:
        for c0 in range(0, image.shape[0], rows):
            c1 = min(image.shape[0], c0 + rows)
            i0, i1 = max(0, c0 - halo), min(image.shape[0], c1 + halo)
            out[c0:c1] = s.stylize_array(image[i0:i1])[c0 - i0 : c1 - i0]
    write_image(target, out, force=True)


def load(path: Path) -> np.ndarray:
    Image.MAX_IMAGE_PIXELS = None
    return np.asarray(Image.open(path).convert("RGB"), np.float32) / 255


def seam_score(out: np.ndarray, ref: np.ndarray, rows: int) -> float:
    bounds = list(range(rows, out.shape[0], rows))
    if not bounds:
        return 1.0
    jump = np.mean([np.abs(out[r] - out[r - 1]).mean() for r in bounds])
    base = np.mean([np.abs(ref[r] - ref[r - 1]).mean() for r in bounds])
    return float(jump / base)


def compare(name: str, path: Path, ref: np.ndarray, rows: int) -> dict[str, Any]:
    out = load(path)
    diff = np.abs(out - ref)
    return {
        "method": name,
        "mean_abs_diff": float(diff.mean()),
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff_255": float(diff.mean() * 255),
        "seam_score": seam_score(out, ref, rows),
        "strip_rows": rows,
    }


def seam_figure(paths: dict[str, Path], rows: int, dest: Path) -> None:
    """Crops around the first strip boundary: one pass | naive per-strip | exact, labelled."""
    from PIL import ImageDraw

    crops = []
    for label, path in paths.items():
        Image.MAX_IMAGE_PIXELS = None
        with Image.open(path) as im:
            box = (1400, rows - 200, 2200, rows + 200)
            crop = im.convert("RGB").crop(box).resize((400, 200))
        ImageDraw.Draw(crop).text((6, 4), label, fill=(255, 255, 255))
        crops.append(crop)
    sheet = Image.new("RGB", (400 * len(crops) + 8 * (len(crops) - 1), 200), "white")
    for i, crop in enumerate(crops):
        sheet.paste(crop, (i * 408, 0))
    sheet.save(dest, quality=88)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="12,48,100", help="megapixel cases from 12, 48, 100")
    parser.add_argument("--max-memory", default="4G")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "nst-bench-tiling")
    parser.add_argument("--tiled-only", action="store_true", help="only the exact tiled runs (keep the rest)")
    parser.add_argument(
        "--compare", action="store_true", help="only the 12 MP equivalence, from --work's outputs"
    )
    parser.add_argument("--naive", nargs=4, metavar=("SRC", "DST", "ROWS", "HALO"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive:
        naive(Path(args.naive[0]), Path(args.naive[1]), int(args.naive[2]), int(args.naive[3]))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    budget = args.max_memory
    if args.compare:
        write_results([], equivalence(args.work, budget), budget)
        return
    runs: list[dict[str, Any]] = []
    quality: list[dict[str, Any]] = []
    for mp in [int(s) for s in args.sizes.split(",")]:
        size = SIZES[mp]
        photo = make_photo(size, args.work / f"photo_{mp}mp.jpg")
        suffix = "png" if mp == 12 else "jpg"
        tiled = args.work / f"out_{mp}mp_exact.{suffix}"
        record = run_case([str(photo), "-o", str(tiled), "--tile", "auto", "--max-memory", budget])
        runs.append(
            {
                "megapixels": mp,
                "size": f"{size[0]}x{size[1]}",
                "mode": "tiled, exact statistics",
                "max_memory": budget,
                "strip_rows": strip_rows(size, budget, "exact"),
                **record,
            }
        )
        if mp != 12 or args.tiled_only:
            write_results(runs, quality, budget)
            continue
        one = args.work / "out_12mp_one_pass.png"
        record = run_case([str(photo), "-o", str(one), "--tile", "off", "--max-memory", "22G"])
        runs.append(
            {
                "megapixels": mp,
                "size": f"{size[0]}x{size[1]}",
                "mode": "one pass",
                "max_memory": "22G",
                "strip_rows": 0,
                **record,
            }
        )
        thumb = args.work / "out_12mp_thumbnail.png"
        record = run_case(
            [
                str(photo),
                "-o",
                str(thumb),
                "--tile",
                "auto",
                "--tile-stats",
                "thumbnail",
                "--max-memory",
                budget,
            ]
        )
        rows_t = strip_rows(size, budget, "thumbnail")
        runs.append(
            {
                "megapixels": mp,
                "size": f"{size[0]}x{size[1]}",
                "mode": "tiled, thumbnail statistics",
                "max_memory": budget,
                "strip_rows": rows_t,
                **record,
            }
        )
        naive_out = args.work / "out_12mp_naive.png"
        subprocess.run(
            [sys.executable, __file__, "--naive", str(photo), str(naive_out), str(NAIVE_ROWS), "64"],
            check=True,
        )
        quality = equivalence(args.work, budget)
        write_results(runs, quality, budget)
    write_results(runs, quality, budget)


def equivalence(work: Path, budget: str) -> list[dict[str, Any]]:
    """Mean/max abs diff and seam score of the 12 MP outputs in ``work`` against one pass."""
    size, one = SIZES[12], work / "out_12mp_one_pass.png"
    tiled, thumb, naive_out = (work / f"out_12mp_{m}.png" for m in ("exact", "thumbnail", "naive"))
    rows, rows_t = strip_rows(size, budget, "exact"), strip_rows(size, budget, "thumbnail")
    ref = load(one)
    quality = [
        compare("exact statistics (strips)", tiled, ref, rows),
        compare("thumbnail statistics (strips)", thumb, ref, rows_t),
        compare(
            f"naive per-strip statistics ({NAIVE_ROWS}-row strips, 64 px halo)", naive_out, ref, NAIVE_ROWS
        ),
    ]
    figure = {"one pass": one, "per-strip statistics": naive_out, "exact statistics": tiled}
    seam_figure(figure, NAIVE_ROWS, REPO / "docs" / "images" / "tiling_seams.jpg")
    return quality


def write_results(runs: list[dict[str, Any]], quality: list[dict[str, Any]], budget: str) -> None:
    path = OUT / "tiling.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    if not quality:  # a partial rerun keeps the equivalence section
        quality = old.get("equivalence", [])
    keep = [
        r
        for r in old.get("runs", [])
        if (r["megapixels"], r["mode"]) not in {(x["megapixels"], x["mode"]) for x in runs}
    ]
    runs = sorted(keep + runs, key=lambda r: (r["megapixels"], r["mode"]))
    data: dict[str, Any] = {
        "machine": machine_description(),
        "model": "nst/assets/default_model.onnx",
        "runs": runs,
        "equivalence": quality,
        "command": "nice -n 10 .venv/bin/python scripts/bench_tiling.py",
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    m = data["machine"]
    lines = [
        "# Tiling: photos of any size in bounded memory",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores; bundled model; `{data['command']}`",
        "",
        "| photo | mode | --max-memory | strip rows | time (s) | peak RSS (MB) | load avg at start | exit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r['megapixels']} MP ({r['size']}) | {r['mode']} | {r['max_memory']} | "
            f"{r['strip_rows'] or '-'} | {r['seconds']} | {r['peak_rss_mb']} | "
            f"{r.get('load_at_start', '-')} | {r['exit']} |"
        )
    lines += [
        "",
        "Equivalence at 12 MP (4000x3000) against one pass (8-bit PNG outputs, values in [0, 1]):",
        "",
        "| method | mean abs diff | (x 255) | max abs diff | seam score (1.0 = like one pass) |",
        "|---|---|---|---|---|",
    ]
    for q in quality:
        lines.append(
            f"| {q['method']} | {q['mean_abs_diff']:.2e} | {q['mean_abs_diff_255']:.3f} | "
            f"{q['max_abs_diff']:.3f} | {q['seam_score']:.2f} |"
        )
    (OUT / "tiling.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {path} and {OUT / 'tiling.md'} (budget {budget})")


if __name__ == "__main__":
    main()
