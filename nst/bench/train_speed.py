"""``nst bench-train``: steps/s of the real training step, a plain loop against nst's options.

Every case trains the same net (a copy of one seeded initial state) on the same pre-drawn
content batches with the same VGG-16 loss and Adam, in one process, so the figures compare:

* ``plain``: the pytorch/examples ``fast_neural_style`` loop as the issue states it: the style
  image goes through VGG and its Gram matrices are recomputed every step; fp32, NCHW, eager.
* ``cached-gram``: nst's :class:`~nst.train.tasks_single.SingleStyleTask` step, whose style
  Gram matrices are computed once (the Task caches them).
* ``+channels-last``, ``+amp-<dtype>``, ``+compile``: one option each on top of ``cached-gram``,
  then ``fast``: all requested options together.
* ``+load-in-process`` and ``+load-<N>-workers[-pinned]`` (``--loader-workers N``): cached-gram
  with the content batch loaded inside the timed step, in this process or by a
  ``torch.utils.data.DataLoader`` with N worker processes (pinned host memory and a
  non-blocking copy with ``--pin-memory``, which is for CUDA).

A case that cannot run here (``torch.compile`` without a working compiler, an autocast dtype
the device lacks, pinned memory without CUDA) is reported ``n/a`` with the reason instead of
failing the run. Except in the ``+load-*`` cases, data loading is outside the timed step
(batches are drawn before timing).
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import statistics
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nst.errors import InputError
from nst.measure import machine_description, time_fn
from nst.train.config import TrainConfig
from nst.train.data import ImageFolderDataset, load_style
from nst.train.loop import resolve_device, seed_everything
from nst.train.losses import content_loss, gram_matrix, style_loss, tv_loss
from nst.train.tasks_single import SingleStyleTask

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
LossFn = Callable[[torch.Tensor], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class LoopOptions:
    """One way of running the training step."""

    cached_gram: bool = True
    channels_last: bool = False
    amp: str | None = None  # "bf16" or "fp16"
    compile: bool = False
    loader: str | None = None  # None: batches drawn before timing; "in-process" or "workers"
    workers: int = 0
    pin_memory: bool = False


@dataclass(frozen=True)
class LoopCase:
    """One measured loop; ``status`` is ``ok`` or ``n/a`` (then ``reason`` says why)."""

    name: str
    options: dict[str, Any]
    status: str
    reason: str = ""
    steps_per_s: float | None = None
    images_per_s: float | None = None
    median_ms: float | None = None
    runs: int = 0
    initial_loss: float | None = None
    last_loss: float | None = None
    speedup: float | None = None


@dataclass
class TrainSpeedResult:
    """All cases of one run plus what they ran on."""

    setup: dict[str, Any]
    machine: dict[str, str | int]
    cases: list[LoopCase] = field(default_factory=list)

    def case(self, name: str) -> LoopCase:
        return next(c for c in self.cases if c.name == name)


def loop_variants(
    channels_last: bool, amp: str | None, compile_: bool, loader_workers: int = 0, pin_memory: bool = False
) -> list[tuple[str, LoopOptions]]:
    """The cases to measure: plain, cached-gram, each requested option alone, all together, then
    (with ``loader_workers``) loading in the step, in-process and in worker processes."""
    if amp is not None and amp not in AMP_DTYPES:
        raise InputError(f"unknown --amp {amp!r}: use {' or '.join(AMP_DTYPES)}")
    if loader_workers < 0:
        raise InputError(f"--loader-workers must be >= 0, got {loader_workers}")
    if pin_memory and not loader_workers:
        raise InputError("--pin-memory applies to the worker loader: give --loader-workers N too")
    out = [("plain", LoopOptions(cached_gram=False)), ("cached-gram", LoopOptions())]
    singles = []
    if channels_last:
        singles.append(("+channels-last", LoopOptions(channels_last=True)))
    if amp:
        singles.append((f"+amp-{amp}", LoopOptions(amp=amp)))
    if compile_:
        singles.append(("+compile", LoopOptions(compile=True)))
    out += singles
    if len(singles) > 1:
        out.append(("fast", LoopOptions(channels_last=channels_last, amp=amp, compile=compile_)))
    if loader_workers:
        name = f"+load-{loader_workers}-workers" + "-pinned" * pin_memory
        out.append(("+load-in-process", LoopOptions(loader="in-process")))
        out.append((name, LoopOptions(loader="workers", workers=loader_workers, pin_memory=pin_memory)))
    return out


def _plain_losses(task: SingleStyleTask, model: nn.Module, vgg: nn.Module, style: torch.Tensor) -> LossFn:
    """pytorch/examples-style losses: the style Gram matrices recomputed from the image each step."""
    cfg = task.config

    def losses(content: torch.Tensor) -> dict[str, torch.Tensor]:
        output = model(content)
        out_feats = vgg(output)
        with torch.no_grad():
            target = vgg(content)[cfg.content_layer]
            style_feats = vgg(style)
            grams = {n: gram_matrix(style_feats[n]) for n in cfg.style_layers}  # (1, C, C)
        parts = {
            "content": cfg.content_weight * content_loss(out_feats[cfg.content_layer], target),
            "style": cfg.style_weight * style_loss(out_feats, grams),
            "tv": cfg.tv_weight * tv_loss(output),
        }
        parts["total"] = parts["content"] + parts["style"] + parts["tv"]
        return parts

    return losses


def _task_losses(task: SingleStyleTask, model: nn.Module, vgg: nn.Module) -> LossFn:
    """The nst Task's own ``losses`` on this case's copies of the net and VGG."""
    view = copy.copy(task)
    view.model, view.vgg = model, vgg
    return view.losses


@dataclass
class _Bench:
    """What every case shares: the task (VGG, cached Grams), initial weights, batches, style."""

    task: SingleStyleTask
    initial: dict[str, torch.Tensor]
    batches: list[torch.Tensor]
    style: torch.Tensor
    device: torch.device
    dataset: ImageFolderDataset


class _StepBatches(torch.utils.data.Dataset[torch.Tensor]):
    """Item ``k``: the content batch of step ``k`` (a whole batch, so the loader does not collate)."""

    def __init__(self, dataset: ImageFolderDataset, batch_size: int, seed: int) -> None:
        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed

    def __len__(self) -> int:
        return 1 << 30

    def __getitem__(self, step: int) -> torch.Tensor:
        return self.dataset.batch(step, self.batch_size, self.seed)


def _batch_source(bench: _Bench, opts: LoopOptions) -> tuple[Iterator[torch.Tensor], Callable[[], None]]:
    """Content batches on the device, one per ``next``, and how to stop their workers."""
    memory = torch.channels_last if opts.channels_last else torch.contiguous_format
    if opts.loader is None:
        cycle = itertools.cycle([b.contiguous(memory_format=memory) for b in bench.batches])
        return cycle, _no_workers
    size, seed = bench.batches[0].shape[0], bench.task.config.seed
    steps = _StepBatches(bench.dataset, size, seed)
    if opts.loader == "in-process":
        counter = itertools.count()
        return (steps[next(counter)].to(bench.device) for _ in itertools.repeat(None)), _no_workers
    loader = torch.utils.data.DataLoader(steps, batch_size=None, num_workers=opts.workers,
                                         pin_memory=opts.pin_memory, persistent_workers=True)  # fmt: skip
    holder = [iter(loader)]  # the workers stop when the last reference to the iterator goes

    def moved() -> Generator[torch.Tensor, None, None]:
        while True:
            yield next(holder[0]).to(bench.device, non_blocking=opts.pin_memory)

    batches = moved()

    def close() -> None:
        batches.close()
        holder.clear()

    return batches, close


def _make_step(
    bench: _Bench, opts: LoopOptions, first: list[float]
) -> tuple[Callable[[], float], Callable[[], None]]:
    """A closure running one optimiser step of a fresh copy of the net under ``opts``, and a
    function that stops its loader workers."""
    memory = torch.channels_last if opts.channels_last else torch.contiguous_format
    model = copy.deepcopy(bench.task.model)
    model.load_state_dict(bench.initial)
    model.train().to(memory_format=memory)
    vgg: nn.Module = copy.deepcopy(bench.task.vgg).to(memory_format=memory)
    optimizer = torch.optim.Adam((p for p in model.parameters() if p.requires_grad), lr=bench.task.config.lr)
    run_model, run_vgg = model, vgg
    if opts.compile:
        run_model, run_vgg = torch.compile(model), torch.compile(vgg)  # type: ignore[assignment]
    if opts.cached_gram:
        loss_fn = _task_losses(bench.task, run_model, run_vgg)
    else:
        loss_fn = _plain_losses(bench.task, run_model, run_vgg, bench.style.contiguous(memory_format=memory))
    dtype = AMP_DTYPES[opts.amp] if opts.amp else None
    scaler = torch.amp.GradScaler(bench.device.type, enabled=dtype is torch.float16)
    batches, close = _batch_source(bench, opts)

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(bench.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            losses = loss_fn(next(batches))
        scaler.scale(losses["total"]).backward()
        scaler.step(optimizer)
        scaler.update()
        value = float(losses["total"].detach())  # also waits for the device
        first.append(value)
        return value

    return step, close


def _no_workers() -> None:
    """The ``close`` of a batch source without worker processes."""


def _unsupported(opts: LoopOptions, device: torch.device) -> str | None:
    if opts.amp == "fp16" and device.type == "cpu":
        return "fp16 autocast is for CUDA; use --amp bf16 on CPU"
    if opts.amp == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return "this GPU has no bf16"
    if opts.pin_memory and device.type != "cuda":
        return f"pinned memory speeds host-to-CUDA copies; this run is on {device.type}"
    return None


def measure_case(
    bench: _Bench, name: str, opts: LoopOptions, *, steps: int, warmup: int, min_seconds: float
) -> LoopCase:
    """Time one loop; a failure to compile or run under ``opts`` becomes an ``n/a`` case."""
    record = asdict(opts)
    reason = _unsupported(opts, bench.device)
    if reason:
        return LoopCase(name, record, "n/a", reason)
    losses: list[float] = []
    close = _no_workers
    try:
        step, close = _make_step(bench, opts, losses)
        times = time_fn(step, warmup=warmup, min_runs=steps, min_seconds=min_seconds)
    except Exception as exc:  # torch.compile/inductor raise many types (no compiler, unsupported op)
        if not opts.compile:
            raise
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        return LoopCase(name, record, "n/a", f"torch.compile failed: {type(exc).__name__}: {first_line}")
    finally:
        close()
    median = statistics.median(times)
    batch = bench.batches[0].shape[0]
    return LoopCase(name, record, "ok", steps_per_s=1.0 / median, images_per_s=batch / median,
                    median_ms=median * 1e3, runs=len(times), initial_loss=losses[0],
                    last_loss=losses[-1])  # fmt: skip


def run_train_speed(
    config: TrainConfig, variants: Sequence[tuple[str, LoopOptions]], *, steps: int = 5, warmup: int = 1,
    min_seconds: float = 0.0, num_batches: int = 4, progress: Callable[[str], None] | None = None,
) -> TrainSpeedResult:  # fmt: skip
    """Measure each loop variant on the same seeded net, data and loss network.

    Args:
        config: The training setup (family ``johnson``, image size, batch, style, VGG weights).
        variants: ``(name, options)`` pairs, e.g. from :func:`loop_variants`; the first is the baseline.
        steps: Timed steps per case, at least.
        warmup: Untimed steps per case first (compilation happens here).
        min_seconds: Timed seconds per case, at least.
        num_batches: Distinct content batches drawn before timing and cycled.
        progress: Called with each case's name before it runs.

    Returns:
        A :class:`TrainSpeedResult`; ``speedup`` is against the first variant.

    Raises:
        InputError: Bad setup (family without a single-style task, no style, bad counts).
    """
    if config.family != "johnson" or len(config.styles) != 1:
        raise InputError("bench-train measures the johnson single-style step: one --style, family johnson")
    if steps < 1 or warmup < 0 or num_batches < 1:
        raise InputError("--steps and --batches must be >= 1 and --warmup >= 0")
    device = resolve_device(config.device)
    seed_everything(config.seed)
    task = SingleStyleTask(config, device)
    dataset = ImageFolderDataset(config.content_dir, config.image_size)
    batches = [dataset.batch(k, config.batch_size, config.seed).to(device) for k in range(num_batches)]
    style = load_style(config.styles[0], config.style_size).to(device)
    bench = _Bench(task, copy.deepcopy(task.model.state_dict()), batches, style, device, dataset)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    setup = {"family": config.family, "model": dict(task.model_config), "image_size": config.image_size,
             "batch_size": config.batch_size, "style_size": config.style_size, "device": str(device),
             "steps": steps, "warmup": warmup, "min_seconds": min_seconds, "seed": config.seed,
             "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
             "load_avg_1min": _load()}  # fmt: skip
    machine = machine_description(
        gpu=gpu, versions={"torch": torch.__version__}, threads=torch.get_num_threads()
    )
    result = TrainSpeedResult(setup, machine)
    for name, opts in variants:
        if progress:
            progress(name)
        result.cases.append(
            measure_case(bench, name, opts, steps=steps, warmup=warmup, min_seconds=min_seconds)
        )
    result.setup["load_avg_1min_after"] = _load()
    base = result.cases[0].steps_per_s if result.cases else None
    result.cases = [
        replace(c, speedup=c.steps_per_s / base) if base and c.steps_per_s else c for c in result.cases
    ]
    return result


def _load() -> float | None:
    """The 1-minute load average (other processes slow every case; None where unknown)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def best_case(result: TrainSpeedResult) -> LoopCase | None:
    """The fastest measured case."""
    ok = [c for c in result.cases if c.steps_per_s is not None]
    return max(ok, key=lambda c: c.steps_per_s or 0.0) if ok else None


def markdown_report(result: TrainSpeedResult, command: str) -> str:
    """The benchmark as markdown: setup, machine, one row per case."""
    s = result.setup
    lines = [
        "# Training step speed (`nst bench-train`)", "",
        f"Regenerate: `{command}`", "",
        f"{s['family']} {s['model']}, {s['image_size']} px crops, batch {s['batch_size']}, style "
        f"{s['style_size']} px, device {s['device']}, {s['steps']}+ timed steps after {s['warmup']} warm-up, "
        f"{s['date']}; 1-min load average {s.get('load_avg_1min')} before, "
        f"{s.get('load_avg_1min_after')} after ({result.machine.get('cores')} cores).", "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in result.machine.items()), "",
        "| loop | steps/s | images/s | median ms/step | speedup vs plain | first loss | last loss | note |",
        "|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for c in result.cases:
        if c.status != "ok":
            lines.append(f"| {c.name} | n/a | n/a | n/a | n/a | | | {c.reason} |")
            continue
        lines.append(f"| {c.name} | {c.steps_per_s:.3f} | {c.images_per_s:.2f} | {c.median_ms:.0f} | "
                     f"{c.speedup:.2f}x | {c.initial_loss:.4f} | {c.last_loss:.4f} | |")  # fmt: skip
    lines += ["", "plain: style Gram recomputed through VGG every step (fp32, NCHW, eager). "
              "cached-gram: nst's SingleStyleTask step (Gram computed once). "
              "`+x`: one option on top of cached-gram; fast: all. "
              "Batches are drawn before timing, so data loading is in no figure except the +load rows: "
              "+load-in-process loads each step's batch in the step, +load-N-workers in N DataLoader "
              "worker processes (-pinned: pinned memory, non-blocking copy).", ""]  # fmt: skip
    return "\n".join(lines)


def summary_line(result: TrainSpeedResult) -> str:
    """``plain 0.52 steps/s; best fast 0.81 steps/s (1.56x)``."""
    base, best = result.cases[0], best_case(result)
    if base.steps_per_s is None or best is None:
        return "no case measured"
    return (f"{base.name} {base.steps_per_s:.3f} steps/s; best {best.name} {best.steps_per_s:.3f} steps/s "
            f"({best.speedup:.2f}x) on {result.setup['device']}")  # fmt: skip


def write_train_speed(result: TrainSpeedResult, json_path: Path, md_path: Path, command: str) -> None:
    """Write the JSON record and the markdown report (targets checked by the caller)."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    record = {"command": command, "setup": result.setup, "machine": result.machine,
              "cases": [asdict(c) for c in result.cases], "summary": summary_line(result)}  # fmt: skip
    json_path.write_text(json.dumps(record, indent=2) + "\n")
    md_path.write_text(markdown_report(result, command))
