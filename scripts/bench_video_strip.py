"""docs/images/video_strip.jpg: consecutive frames of the noisy pan, input and each method.

Run by ``scripts/bench_video_temporal.py strip`` after ``... measure`` (which leaves the clips
in runs/temporal/eval). Rows: input, frame-by-frame, flow alpha=0.7, temporal-loss net; then
the flicker itself, |O_t - W(O_t-1)| x4 with the scene's true motion, for frame-by-frame and
the temporal-loss net.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROWS = (
    ("input", "noisy_pan"),
    ("frame-by-frame", "noisy_pan_frame_by_frame"),
    ("flow a=0.7", "noisy_pan_flow_a_0_7"),
    ("temporal loss W=50", "noisy_pan_temporal_loss_W_50"),
)
DIFF_ROWS = (
    ("|change| x4, frame-by-frame", "noisy_pan_frame_by_frame"),
    ("|change| x4, flow a=0.7", "noisy_pan_flow_a_0_7"),
    ("|change| x4, temporal loss", "noisy_pan_temporal_loss_W_50"),
)
FIRST, COUNT, TILE, LABEL = 20, 4, (224, 168), 180


def _decode(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _flicker(frames: list[np.ndarray], t: int) -> np.ndarray:
    """|O_t - W(O_t-1)| x4 with the pan's true motion (black where the pixel was not seen)."""
    import cv2
    from bench_video import true_motion

    map_x, map_y, seen = true_motion("pan", t, frames[t].shape[:2])
    prev = frames[t - 1].astype(np.float32)
    warped = cv2.remap(prev, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    diff = np.abs(frames[t].astype(np.float32) - warped) * 4 * seen[..., None]
    return np.clip(diff, 0, 255).astype(np.uint8)


def write_strip(eval_dir: Path, out: Path) -> Path:
    """Compose the strip from the clips in ``eval_dir`` into ``out`` (JPEG, quality 72)."""
    from PIL import Image, ImageDraw

    tiles: list[tuple[str, list[np.ndarray]]] = []
    for label, name in ROWS:
        frames = _decode(eval_dir / f"{name}.mp4")
        tiles.append((label, frames[FIRST : FIRST + COUNT]))
    for label, name in DIFF_ROWS:
        frames = _decode(eval_dir / f"{name}.mp4")
        tiles.append((label, [_flicker(frames, t) for t in range(FIRST, FIRST + COUNT)]))
    w, h = TILE
    sheet = Image.new("RGB", (LABEL + COUNT * w, len(tiles) * h + 24), "white")
    draw = ImageDraw.Draw(sheet)
    for i in range(COUNT):
        draw.text((LABEL + i * w + 4, 6), f"frame {FIRST + i}", fill="black")
    for row, (label, frames) in enumerate(tiles):
        y = 24 + row * h
        draw.text((6, y + h // 2 - 6), label, fill="black")
        for col, frame in enumerate(frames):
            sheet.paste(Image.fromarray(frame).resize(TILE, Image.Resampling.LANCZOS), (LABEL + col * w, y))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, quality=72)
    print(f"-> {out} ({out.stat().st_size // 1024} KB)")
    return out
