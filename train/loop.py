"""The one training loop shared by all families: seeded, AMP on CUDA, checkpoint + resume,
progress bar with losses, periodic sample grids and a loss curve at the end.

Run folder layout (``out_dir``)::

    checkpoint.pt        latest state (weights, optimizer, step, history, RNG)
    config.json          the TrainConfig, for people
    samples/step_NNNNNN.png  content crops (top) and outputs (bottom)
    loss_curve.png
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from nst.config import config_from_dict, config_to_dict
from nst.errors import InputError, OutputExistsError
from nst.train.checkpoint import load_checkpoint, save_checkpoint
from nst.train.config import TrainConfig
from nst.train.data import ImageFolderDataset
from nst.train.plots import save_grid, save_loss_curve
from nst.train.tasks import STYLE_FREE, Task, make_task

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainResult:
    """What a finished run produced."""

    checkpoint: Path
    steps: int
    seconds: float
    final_losses: dict[str, float]
    loss_curve: Path


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device {name!r} requested but CUDA is not available")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _prepare_run(config: TrainConfig, out_dir: Path, resume: bool, force: bool) -> dict[str, Any] | None:
    ckpt_path = out_dir / CHECKPOINT
    if resume:
        ckpt = load_checkpoint(ckpt_path)
        saved = config_from_dict(TrainConfig, ckpt["train_config"])
        if replace(saved, steps=config.steps) != config:
            raise InputError(f"--resume continues {ckpt_path} with its own config; only --steps may change")
        return ckpt
    if ckpt_path.exists() and not force:
        raise OutputExistsError(f"{ckpt_path} exists; use --resume to continue or --force to restart")
    return None


def train(
    config: TrainConfig, out_dir: str | Path, *, resume: bool = False, force: bool = False,
    progress: bool = True,
) -> TrainResult:  # fmt: skip
    """Train ``config`` into ``out_dir``.

    Args:
        config: The run's hyper-parameters (with ``resume``, the checkpoint's, ``steps`` may grow).
        out_dir: Run folder (created).
        resume: Continue from ``out_dir/checkpoint.pt``.
        force: Start over even if a checkpoint exists (it is replaced at the first save).
        progress: Show a progress bar.

    Returns:
        A :class:`TrainResult`.

    Raises:
        OutputExistsError: A checkpoint exists and neither ``resume`` nor ``force`` was given.
        InputError: Invalid config, data or resume request.
    """
    out = Path(out_dir)
    if not config.styles and config.family not in STYLE_FREE:
        raise InputError("at least one style image is needed (--style PATH)")
    ckpt = _prepare_run(config, out, resume, force)
    seed_everything(config.seed)
    device = resolve_device(config.device)
    dataset = ImageFolderDataset(config.content_dir, config.image_size)
    task = make_task(config, device)
    optimizer = torch.optim.Adam((p for p in task.model.parameters() if p.requires_grad), lr=config.lr)
    use_amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    history: dict[str, list[float]] = {"step": []}
    step = 0
    if ckpt is not None:
        task.model.load_state_dict(ckpt["state_dict"])
        optimizer.load_state_dict(ckpt["optimizer"])
        step, history = ckpt["step"], ckpt["history"]
        torch.set_rng_state(ckpt["rng"]["torch"])
    (out / "samples").mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config_to_dict(config), indent=2))

    def snapshot() -> None:
        save_checkpoint(out / CHECKPOINT, {
            "family": config.family, "model_config": task.model_config,
            "train_config": config_to_dict(config), "styles": [Path(s).stem for s in config.styles],
            "state_dict": task.model.state_dict(), "optimizer": optimizer.state_dict(),
            "step": step, "history": history,
            "rng": {"torch": torch.get_rng_state()},
        })  # fmt: skip

    fixed = dataset.batch(-1, min(4, config.batch_size), config.seed).to(device)  # same crops in every grid
    start = time.perf_counter()
    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc="train", unit="step")
    window: dict[str, list[float]] = {}
    task.model.train()
    while step < config.steps:
        batch = dataset.batch(step, config.batch_size, config.seed).to(device)
        if hasattr(task, "set_step"):  # tasks whose draws depend on the step (multi-style)
            task.set_step(step)
        losses = _step(task, batch, optimizer, scaler, use_amp)
        step += 1
        for k, v in losses.items():
            window.setdefault(k, []).append(v)
        if step % config.log_every == 0 or step == config.steps:
            _log(history, window, step)
            bar.set_postfix({k: f"{v[-1]:.3g}" for k, v in history.items() if k != "step"})
        if step % config.sample_every == 0 or step == config.steps:
            _sample(task, fixed, out / "samples" / f"step_{step:06d}.png")
        if step % config.checkpoint_every == 0 or step == config.steps:
            snapshot()
        bar.update(1)
    bar.close()
    seconds = time.perf_counter() - start
    curve = save_loss_curve(
        out / "loss_curve.png",
        history,
        f"{config.family}: {', '.join(Path(s).stem for s in config.styles)}",
    )
    final = {k: v[-1] for k, v in history.items() if k != "step" and v}
    return TrainResult(out / CHECKPOINT, step, seconds, final, curve)


def _step(
    task: Task, batch: torch.Tensor, optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler, use_amp: bool,
) -> dict[str, float]:  # fmt: skip
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast("cuda", dtype=torch.float16, enabled=use_amp):
        losses = task.losses(batch)
    scaler.scale(losses["total"]).backward()
    scaler.step(optimizer)
    scaler.update()
    return {k: float(v.detach()) for k, v in losses.items()}


def _log(history: dict[str, list[float]], window: dict[str, list[float]], step: int) -> None:
    history["step"].append(step)
    for k, values in window.items():
        history.setdefault(k, []).append(float(np.mean(values)))
    window.clear()
    log.debug("step %d %s", step, {k: v[-1] for k, v in history.items()})


def _sample(task: Task, fixed: torch.Tensor, path: Path) -> None:
    task.model.eval()
    with torch.no_grad():
        outputs = task.stylize(fixed)
    task.model.train()
    save_grid(path, [fixed, outputs])
