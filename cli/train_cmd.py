"""``nst train``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import app, handle_errors, parse_key_values


@app.command()
@handle_errors
def train(
    content: Annotated[Path, typer.Option("--content", "-c", help="Folder of content images.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder (checkpoint, samples, curves).")],
    family: Annotated[str | None, typer.Option(help="Model family (default: johnson).")] = None,
    model: Annotated[
        list[str], typer.Option("--model", "-m", help="Model config KEY=VALUE, e.g. base_channels=16.")
    ] = [],  # noqa: B006
    steps: Annotated[int, typer.Option(help="Optimiser steps.")] = 2000,
    batch_size: Annotated[int, typer.Option(help="Content images per step.")] = 4,
    image_size: Annotated[int, typer.Option(help="Square crop size of content images.")] = 256,
    style_size: Annotated[int, typer.Option(help="Short side of the style image.")] = 512,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-3,
    content_weight: Annotated[float, typer.Option(help="Content loss weight.")] = 1.0,
    style_weight: Annotated[
        float, typer.Option(help="Style loss weight (losses are relative, see train/losses.py).")
    ] = 2.0,
    tv_weight: Annotated[float, typer.Option(help="Total-variation loss weight.")] = 10.0,
    temporal_weight: Annotated[
        float,
        typer.Option(
            help="Temporal loss weight on synthetic warped pairs (johnson; docs/VIDEO.md); 0 = off."
        ),
    ] = 0.0,
    init: Annotated[
        Path | None,
        typer.Option("--init", help="Start from this checkpoint's weights (johnson fine-tuning)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    sample_every: Annotated[int, typer.Option(help="Write a sample grid every N steps.")] = 100,
    checkpoint_every: Annotated[int, typer.Option(help="Save a checkpoint every N steps.")] = 200,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    vgg_weights: Annotated[
        str | None,
        typer.Option(help="VGG-16 weights (torchvision layout); else $NST_VGG_WEIGHTS or download."),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out.")] = False,
    force: Annotated[bool, typer.Option(help="Restart even if --out has a checkpoint.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    style: Annotated[
        list[Path], typer.Option("--style", "-s", help="Style image (repeat for multi-style families).")
    ] = [],  # noqa: B006
    from_checkpoint: Annotated[
        Path | None,
        typer.Option("--from", help="cin/stylebank checkpoint to extend with --add-style (the rest frozen)."),
    ] = None,
    add_style: Annotated[
        list[Path], typer.Option(help="New style image for --from (repeatable); other options as usual.")
    ] = [],  # noqa: B006
    nproc: Annotated[
        int,
        typer.Option(help="Local training processes (torch elastic launcher; gloo on CPU, NCCL on CUDA)."),
    ] = 1,
    nnodes: Annotated[str, typer.Option(help="Nodes of a multi-node job (torchrun's --nnodes).")] = "1",
    rdzv_endpoint: Annotated[
        str | None, typer.Option(help="HOST:PORT every node meets at (multi-node; torchrun's).")
    ] = None,
    shards: Annotated[
        int | None,
        typer.Option(help="Shards of the global batch (batch-size x shards images); default: processes."),
    ] = None,
    dist_timeout: Annotated[
        float, typer.Option(help="Seconds a rank waits for the others before failing.")
    ] = 300.0,
) -> None:
    """Train a feed-forward style network (``--nproc N``: on N processes, see docs/TRAINING_DDP.md)."""
    from nst.errors import InputError, require

    require("torch", "train")
    from nst.train import distributed
    from nst.train.config import TrainConfig
    from nst.train.loop import train as run_training

    if from_checkpoint is None and add_style:
        raise InputError("--add-style needs --from CKPT (the trained multi-style checkpoint)")
    if from_checkpoint is not None and (style or model or family):
        raise InputError("with --from, family, model and styles come from the checkpoint: only --add-style")
    if init is not None and from_checkpoint is not None:
        raise InputError(
            "--init starts a single-style net from a checkpoint; --from extends a multi-style one"
        )
    if init is not None and (family or "johnson") != "johnson":
        raise InputError("--init fine-tunes a johnson net; cin/stylebank grow from a checkpoint with --from")
    config = TrainConfig(
        family=family or "johnson", content_dir=str(content), styles=tuple(str(s) for s in style),
        model=parse_key_values(model, "--model"), steps=steps, batch_size=batch_size,
        image_size=image_size, style_size=style_size, lr=lr, content_weight=content_weight,
        style_weight=style_weight, tv_weight=tv_weight, temporal_weight=temporal_weight,
        init_from=str(init) if init is not None else None, seed=seed, sample_every=sample_every,
        checkpoint_every=checkpoint_every, device=device, vgg_weights=vgg_weights,
        batch_shards=shards or _world_size(nproc, nnodes),
    )  # fmt: skip
    if from_checkpoint is not None:
        from nst.train.tasks_multistyle import add_style_config

        config = add_style_config(from_checkpoint, tuple(str(s) for s in add_style), config)
    if nproc > 1 or nnodes != "1":  # this process only launches the ranks
        launcher = distributed.launcher_args(nproc, nnodes, rdzv_endpoint)
        distributed.launch(launcher, distributed.run_payload(config, out, resume, force, dist_timeout))
        typer.echo(f"trained {config.family} on {nnodes} x {nproc} processes -> {out / 'checkpoint.pt'}")
        return
    ctx = distributed.context_from_env(dist_timeout)  # set when torchrun started this process
    result = run_training(config, out, resume=resume, force=force, progress=progress, dist_ctx=ctx)
    if ctx is not None and not ctx.is_main:
        return
    losses = ", ".join(f"{k} {v:.4g}" for k, v in result.final_losses.items())
    typer.echo(
        f"trained {config.family} for {result.steps} steps in {result.seconds:.1f}s "
        f"-> {result.checkpoint} ({losses})"
    )


def _world_size(nproc: int, nnodes: str) -> int:
    """Processes in the job: torchrun's ``WORLD_SIZE`` inside a rank, else ``nnodes x nproc``."""
    import os

    from nst.errors import InputError

    if "WORLD_SIZE" in os.environ:
        return int(os.environ["WORLD_SIZE"])
    if not nnodes.isdigit():
        raise InputError(
            f"--nnodes must be a number of nodes (elastic ranges are not supported), got {nnodes!r}"
        )
    return int(nnodes) * nproc
