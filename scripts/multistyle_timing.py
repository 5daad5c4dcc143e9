"""Step time and trained parameters: full multi-style training vs adding one style (--add-style).

Both runs train on the same batches in one process, one step each in turn, so load from other
processes on a shared machine hits both alike. Writes docs/multistyle_timing.json.

    NST_VGG_WEIGHTS=../shared/weights/vgg16_imagenet_features.pth .venv/bin/python \\
        scripts/multistyle_timing.py runs/multistyle --steps 12
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def step_time(task: object, optimizer: object, batch: object, step: int) -> float:
    task.set_step(step)  # type: ignore[attr-defined]
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)  # type: ignore[attr-defined]
    task.losses(batch)["total"].backward()  # type: ignore[attr-defined]
    optimizer.step()  # type: ignore[attr-defined]
    return time.perf_counter() - start


def compare(family: str, run: Path, steps: int) -> dict:
    import torch

    from nst.config import config_from_dict
    from nst.train.checkpoint import load_checkpoint
    from nst.train.config import TrainConfig
    from nst.train.data import ImageFolderDataset
    from nst.train.tasks import make_task
    from nst.train.tasks_multistyle import add_style_config

    ckpt = run / f"{family}_full" / "checkpoint.pt"
    base = config_from_dict(TrainConfig, load_checkpoint(ckpt)["train_config"])
    third = str(run / "styles" / "waves.png")
    full_cfg = replace(base, styles=(*base.styles, third))  # all three styles from scratch
    add_cfg = add_style_config(ckpt, (third,), base)
    tasks = {
        "full": make_task(full_cfg, torch.device("cpu")),
        "add_style": make_task(add_cfg, torch.device("cpu")),
    }
    optims = {
        k: torch.optim.Adam((p for p in t.model.parameters() if p.requires_grad), lr=base.lr)
        for k, t in tasks.items()
    }
    data = ImageFolderDataset(base.content_dir, base.image_size)
    times: dict[str, list[float]] = {k: [] for k in tasks}
    for step in range(steps + 2):
        batch = data.batch(step, base.batch_size, base.seed)
        for name, task in tasks.items():
            seconds = step_time(task, optims[name], batch, step)
            if step >= 2:  # warm-up
                times[name].append(seconds)
    return {
        name: {
            "mean_s_per_step": round(statistics.mean(t), 4),
            "trained_params": tasks[name].trained_parameter_count(),  # type: ignore[attr-defined]
            "total_params": sum(p.numel() for p in tasks[name].model.parameters()),
        }
        for name, t in times.items()
    } | {"steps_timed": steps, "torch_threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path, help="--out folder of scripts/multistyle_demo.py")
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    results = {}
    for family in ("cin", "stylebank"):
        results[family] = compare(family, args.run, args.steps)
        print(family, json.dumps(results[family]), flush=True)
    (REPO / "docs/multistyle_timing.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
