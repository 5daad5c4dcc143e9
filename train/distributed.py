"""Multi-process training: process group, shard arithmetic, gradient averaging, the launcher.

One step's *global batch* is ``batch_size x batch_shards`` content crops drawn from
``step_seed(seed, step)``, split into ``batch_shards`` shards of ``batch_size``. Each shard's
task loss is computed on its own (as if it were a batch) and the step optimises the mean over
shards. ``W`` processes take ``batch_shards / W`` consecutive shards each, so a run is the same
computation on any world size that divides ``batch_shards`` (one process accumulates over all
shards): the world size is how the work is spread, never what is computed.

Gradients are averaged with one flattened ``all_reduce`` per step after all local shards are
back-propagated (what DistributedDataParallel does, without overlapping the backward pass). Not
the DDP wrapper itself: several tasks drive their net through methods other than ``forward``
(StyleBank's ``stylize_map``/``reconstruct``, ``--add-style`` freezing all but a few tables),
which DDP's reducer never sees. Parameters no shard touched on any rank keep ``grad=None``,
exactly as in one process.

Worker entry point (what ``nst train --nproc N`` starts through ``torch.distributed.run``)::

    python -m nst.train.distributed RUN_JSON
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from nst.config import config_from_dict, config_to_dict
from nst.errors import InputError, NstError
from nst.train.config import TrainConfig

#: test-only hook: ``"RANK,STEP"`` makes that rank exit (code 3) before step STEP.
EXIT_HOOK = "NST_TEST_DDP_EXIT"
DEFAULT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class DistContext:
    """This process's place in a training job (torch's ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``)."""

    rank: int
    world_size: int
    local_rank: int
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints, samples, config and the loss curve."""
        return self.rank == 0


def context_from_env(timeout_s: float = DEFAULT_TIMEOUT_S) -> DistContext | None:
    """The context torchrun's environment describes; ``None`` outside a multi-process job."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    if timeout_s <= 0:
        raise InputError(f"--dist-timeout must be > 0 seconds, got {timeout_s}")
    return DistContext(
        rank=int(os.environ["RANK"]), world_size=world,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")), timeout_s=timeout_s,
    )  # fmt: skip


def check_world(config: TrainConfig, ctx: DistContext | None) -> None:
    """Refuse a world size that cannot split the run's global batch.

    Raises:
        InputError: ``batch_shards`` is not a multiple of the world size, or an explicit
            ``cuda:N`` device was given to a multi-process run.
    """
    world = 1 if ctx is None else ctx.world_size
    if config.batch_shards % world:
        raise InputError(
            f"the run has batch_shards={config.batch_shards} (global batch {config.batch_size} x "
            f"{config.batch_shards}); {world} processes cannot split it: use a world size that "
            f"divides {config.batch_shards}"
        )
    if ctx is not None and config.device.startswith("cuda:"):
        raise InputError("with several processes use --device cuda (each rank takes cuda:LOCAL_RANK)")


def rank_device(device: torch.device, ctx: DistContext | None) -> torch.device:
    """Rank ``r`` of a CUDA job trains on ``cuda:LOCAL_RANK``."""
    if ctx is None or device.type != "cuda":
        return device
    torch.cuda.set_device(ctx.local_rank)
    return torch.device("cuda", ctx.local_rank)


def init_process_group(ctx: DistContext, device: torch.device) -> None:
    """Join the job's process group: NCCL on CUDA, gloo on CPU, with the context's timeout.

    Raises:
        NstError: The rendezvous failed or timed out.
    """
    backend = "nccl" if device.type == "cuda" else "gloo"
    try:
        dist.init_process_group(
            backend, rank=ctx.rank, world_size=ctx.world_size, timeout=timedelta(seconds=ctx.timeout_s)
        )
    except (RuntimeError, ValueError) as exc:
        message = f"rank {ctx.rank}: cannot join the {backend} process group: {_first_line(exc)}"
        raise NstError(message) from exc


def shutdown() -> None:
    """Leave the process group (if joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def local_shards(config: TrainConfig, ctx: DistContext | None) -> range:
    """Indices of the global batch's shards this process computes."""
    if ctx is None:
        return range(config.batch_shards)
    per_rank = config.batch_shards // ctx.world_size
    return range(ctx.rank * per_rank, (ctx.rank + 1) * per_rank)


def broadcast_model(model: torch.nn.Module, ctx: DistContext | None) -> None:
    """Start every rank from rank 0's weights (seeded init makes them equal; this guarantees it)."""
    if ctx is None:
        return
    for tensor in [*model.parameters(), *model.buffers()]:
        _collective(ctx, "broadcast of the initial weights", dist.broadcast, tensor.data, 0)


def average_gradients(params: list[torch.nn.Parameter], ctx: DistContext | None) -> None:
    """Sum the ranks' (already shard-averaged) gradients in one ``all_reduce``.

    Each local gradient is ``sum over local shards of grad / batch_shards``, so the sum over
    ranks is the mean over all shards. A parameter keeps ``grad=None`` only if no rank touched it.
    """
    if ctx is None or not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    touched = torch.tensor([p.grad is not None for p in params], dtype=grads[0].dtype, device=grads[0].device)
    flat = torch.cat([g.reshape(-1) for g in grads] + [touched])  # (sum numel + n_params,)
    _collective(ctx, "gradient all_reduce", dist.all_reduce, flat)
    offset = 0
    for i, p in enumerate(params):
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone() if flat[-len(params) + i] > 0 else None
        offset += n


def gather_losses(losses: dict[str, float], ctx: DistContext | None) -> list[dict[str, float]]:
    """Every rank's per-step loss dict (rank order); ``[losses]`` in one process."""
    if ctx is None:
        return [losses]
    out: list[Any] = [None] * ctx.world_size
    _collective(ctx, "loss gather", dist.all_gather_object, out, losses)
    return out


def maybe_exit_for_test(ctx: DistContext | None, step: int) -> None:
    """Test-only: ``NST_TEST_DDP_EXIT=RANK,STEP`` kills that rank before step STEP (no cleanup)."""
    hook = os.environ.get(EXIT_HOOK)
    if ctx is None or not hook:
        return
    rank, at = (int(v) for v in hook.split(","))
    if ctx.rank == rank and step == at:
        os._exit(3)


def _collective(ctx: DistContext, what: str, fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except (RuntimeError, dist.DistError) as exc:
        raise NstError(
            f"rank {ctx.rank}/{ctx.world_size}: {what} failed (another rank died or hung; "
            f"--dist-timeout {ctx.timeout_s:g}s): {_first_line(exc)}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def launcher_args(
    nproc: int, nnodes: str, rdzv_endpoint: str | None, node_rank: int | None = None
) -> list[str]:
    """``torch.distributed.run`` options for ``nproc`` local workers (``--standalone`` on one node).

    Raises:
        InputError: ``nproc`` < 1, or several nodes without ``--rdzv-endpoint``.
    """
    if nproc < 1:
        raise InputError(f"--nproc must be >= 1, got {nproc}")
    args = [f"--nproc-per-node={nproc}", f"--nnodes={nnodes}"]
    if rdzv_endpoint is None:
        if nnodes != "1":
            raise InputError("--nnodes > 1 needs --rdzv-endpoint HOST:PORT (the same on every node)")
        return [*args, "--standalone"]
    return [*args, "--rdzv-backend=c10d", f"--rdzv-endpoint={rdzv_endpoint}"]


def launch(launcher: list[str], run: dict[str, Any]) -> None:
    """Start the workers through torch's elastic launcher and wait for them.

    Args:
        launcher: From :func:`launcher_args`.
        run: ``{"config": config dict, "out": path, "resume": bool, "force": bool,
            "timeout_s": float}``, handed to each worker as JSON.

    Raises:
        NstError: A worker failed (its own ``error: ...`` line is above in the log).
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args
    from torch.distributed.run import run as elastic_run

    argv = [*launcher, "--module", "nst.train.distributed", json.dumps(run)]
    try:
        elastic_run(parse_args(argv))
    except ChildFailedError as exc:
        rank, first = exc.get_first_failure()
        raise NstError(
            f"distributed training failed: rank {rank} exited first (code {first.exitcode}) and the "
            f"launcher stopped the other ranks; see rank {rank}'s messages above"
        ) from exc


def worker_main(payload: str) -> None:
    """Run one rank of a job started by :func:`launch` (exit code 1 + ``error:`` on NstError)."""
    from nst.train.loop import train

    run = json.loads(payload)
    config = config_from_dict(TrainConfig, run["config"])
    try:
        ctx = context_from_env(run["timeout_s"])
        train(config, Path(run["out"]), resume=run["resume"], force=run["force"],
              progress=run.get("progress", False), dist_ctx=ctx)  # fmt: skip
    except NstError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


def run_payload(
    config: TrainConfig, out: Path, resume: bool, force: bool, timeout_s: float
) -> dict[str, Any]:
    """The JSON-able description of a run that :func:`launch` hands to its workers."""
    return {"config": config_to_dict(config), "out": str(out), "resume": resume, "force": force,
            "timeout_s": timeout_s}  # fmt: skip


if __name__ == "__main__":
    worker_main(sys.argv[1])
