"""The one training loop shared by all families: seeded, AMP on CUDA, checkpoint + resume,
progress bar with losses, periodic sample grids and a loss curve at the end.

Run folder layout (``out_dir``)::

    checkpoint.pt        latest state (weights, optimizer, step, history, RNG)
    config.json          the TrainConfig, for people
    samples/step_NNNNNN.png  content crops (top) and outputs (bottom)
    loss_curve.png

In a multi-process job (:mod:`nst.train.distributed`) every rank runs this loop on its shards
of each step's global batch; only rank 0 writes the run folder.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field, replace
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
from nst.train.distributed import (
    DistContext,
    average_gradients,
    broadcast_model,
    check_world,
    gather_losses,
    init_process_group,
    local_shards,
    maybe_exit_for_test,
    rank_device,
    shutdown,
)  # fmt: skip
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
        if saved.batch_shards != config.batch_shards:
            raise InputError(
                f"{ckpt_path} was trained with batch_shards={saved.batch_shards} (global batch "
                f"{saved.batch_size} x {saved.batch_shards}); resume with --shards {saved.batch_shards} "
                f"on a number of processes that divides it"
            )
        if replace(saved, steps=config.steps) != config:
            raise InputError(f"--resume continues {ckpt_path} with its own config; only --steps may change")
        return ckpt
    if ckpt_path.exists() and not force:
        raise OutputExistsError(f"{ckpt_path} exists; use --resume to continue or --force to restart")
    return None


@dataclass
class _Run:
    """The state one training run carries from step to step."""

    config: TrainConfig
    out: Path
    task: Task
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    use_amp: bool
    device: torch.device
    dist_ctx: DistContext | None
    step: int = 0
    history: dict[str, list[float]] = field(default_factory=lambda: {"step": []})

    @property
    def is_main(self) -> bool:
        return self.dist_ctx is None or self.dist_ctx.is_main

    def snapshot(self) -> None:
        """Write the checkpoint (rank 0 only)."""
        if not self.is_main:
            return
        config = self.config
        save_checkpoint(self.out / CHECKPOINT, {
            "family": config.family, "model_config": self.task.model_config,
            "train_config": config_to_dict(config), "styles": [Path(s).stem for s in config.styles],
            "state_dict": self.task.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "step": self.step, "history": self.history,
            "rng": {"torch": torch.get_rng_state()},
        })  # fmt: skip


def train(
    config: TrainConfig, out_dir: str | Path, *, resume: bool = False, force: bool = False,
    progress: bool = True, dist_ctx: DistContext | None = None,
) -> TrainResult:  # fmt: skip
    """Train ``config`` into ``out_dir``.

    Args:
        config: The run's hyper-parameters (with ``resume``, the checkpoint's, ``steps`` may grow).
        out_dir: Run folder (created; on a shared file system for several nodes).
        resume: Continue from ``out_dir/checkpoint.pt``.
        force: Start over even if a checkpoint exists (it is replaced at the first save).
        progress: Show a progress bar (rank 0 only).
        dist_ctx: This process's rank in a multi-process job (see :mod:`nst.train.distributed`);
            ``None`` trains in this process alone.

    Returns:
        A :class:`TrainResult` (on every rank; only rank 0 writes files).

    Raises:
        OutputExistsError: A checkpoint exists and neither ``resume`` nor ``force`` was given.
        InputError: Invalid config, data, resume request or world size.
        NstError: Another rank died or the process group timed out.
    """
    out = Path(out_dir)
    if not config.styles and config.family not in STYLE_FREE:
        raise InputError("at least one style image is needed (--style PATH)")
    check_world(config, dist_ctx)
    ckpt = _prepare_run(config, out, resume, force)
    device = rank_device(resolve_device(config.device), dist_ctx)
    if dist_ctx is not None:
        init_process_group(dist_ctx, device)
    try:
        return _train(config, out, ckpt, device, dist_ctx, progress)
    finally:
        shutdown()


def _setup(
    config: TrainConfig, out: Path, ckpt: dict[str, Any] | None, device: torch.device,
    dist_ctx: DistContext | None,
) -> _Run:  # fmt: skip
    seed_everything(config.seed)
    task = make_task(config, device)
    optimizer = torch.optim.Adam((p for p in task.model.parameters() if p.requires_grad), lr=config.lr)
    use_amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    run = _Run(config, out, task, optimizer, scaler, use_amp, device, dist_ctx)
    if ckpt is not None:
        task.model.load_state_dict(ckpt["state_dict"])
        optimizer.load_state_dict(ckpt["optimizer"])
        run.step, run.history = ckpt["step"], ckpt["history"]
        torch.set_rng_state(ckpt["rng"]["torch"])
    broadcast_model(task.model, dist_ctx)
    if run.is_main:
        (out / "samples").mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config_to_dict(config), indent=2))
    return run


def _train(
    config: TrainConfig, out: Path, ckpt: dict[str, Any] | None, device: torch.device,
    dist_ctx: DistContext | None, progress: bool,
) -> TrainResult:  # fmt: skip
    run = _setup(config, out, ckpt, device, dist_ctx)
    dataset = ImageFolderDataset(config.content_dir, config.image_size)
    fixed = dataset.batch(-1, min(4, config.batch_size), config.seed).to(device)  # same crops in every grid
    start = time.perf_counter()
    bar = tqdm(total=config.steps, initial=run.step, disable=not (progress and run.is_main), desc="train",
               unit="step")  # fmt: skip
    window: dict[str, list[float]] = {}
    run.task.model.train()
    while run.step < config.steps:
        maybe_exit_for_test(dist_ctx, run.step)
        losses = _step(run, dataset)
        run.step += 1
        for k, v in losses.items():
            window.setdefault(k, []).append(v)
        step = run.step
        if step % config.log_every == 0 or step == config.steps:
            _log(run.history, window, step)
            bar.set_postfix({k: f"{v[-1]:.3g}" for k, v in run.history.items() if k != "step"})
        if run.is_main and (step % config.sample_every == 0 or step == config.steps):
            _sample(run.task, fixed, out / "samples" / f"step_{step:06d}.png")
        if step % config.checkpoint_every == 0 or step == config.steps:
            run.snapshot()
        bar.update(1)
    bar.close()
    seconds = time.perf_counter() - start
    curve = out / "loss_curve.png"
    if run.is_main:
        title = f"{config.family}: {', '.join(Path(s).stem for s in config.styles)}"
        curve = save_loss_curve(curve, run.history, title)
    final = {k: v[-1] for k, v in run.history.items() if k != "step" and v}
    return TrainResult(out / CHECKPOINT, run.step, seconds, final, curve)


def _step(run: _Run, dataset: ImageFolderDataset) -> dict[str, float]:
    """One optimiser step over this process's shards of the global batch.

    Shard ``j`` of step ``k`` is images ``[j*b, (j+1)*b)`` of the step's global batch and draws
    the task's own randomness (noise, styles) as virtual step ``k * batch_shards + j``; with one
    shard that is step ``k`` itself, as before shards existed.
    """
    config, task, b = run.config, run.task, run.config.batch_size
    shards = config.batch_shards
    batch = dataset.batch(run.step, b * shards, config.seed)
    run.optimizer.zero_grad(set_to_none=True)
    local: list[dict[str, float]] = []
    for j in local_shards(config, run.dist_ctx):
        if hasattr(task, "set_step"):  # tasks whose draws depend on the step (multi-style, noise)
            task.set_step(run.step * shards + j)
        with torch.autocast("cuda", dtype=torch.float16, enabled=run.use_amp):
            losses = task.losses(batch[j * b : (j + 1) * b].to(run.device))
        run.scaler.scale(losses["total"] / shards).backward()
        local.append({k: float(v.detach()) for k, v in losses.items()})
    average_gradients([p for p in task.model.parameters() if p.requires_grad], run.dist_ctx)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    total = _sum_losses(gather_losses(_sum_losses(local), run.dist_ctx))
    return {k: v / shards for k, v in total.items()}


def _sum_losses(dicts: list[dict[str, float]]) -> dict[str, float]:
    """Key-wise sum (a loss some shards lack, e.g. StyleBank's periodic identity loss, counts 0)."""
    out: dict[str, float] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0.0) + v
    return out


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
