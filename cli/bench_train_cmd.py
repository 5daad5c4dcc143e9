"""``nst bench-train``."""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from nst.cli.app import app, handle_errors


@app.command("bench-train")
@handle_errors
def bench_train(
    content: Annotated[
        Path | None, typer.Option(help="Folder of content photos (default: the bundled images).")
    ] = None,
    style: Annotated[Path | None, typer.Option(help="Style image (default: the bundled swirl).")] = None,
    size: Annotated[int, typer.Option(help="Square crop size in pixels.")] = 128,
    batch: Annotated[int, typer.Option(help="Crops per step.")] = 4,
    style_size: Annotated[int, typer.Option(help="Short side of the style image.")] = 256,
    base_channels: Annotated[int, typer.Option(help="Johnson net width.")] = 16,
    num_residual: Annotated[int, typer.Option(help="Johnson net residual blocks.")] = 5,
    channels_last: Annotated[bool, typer.Option("--channels-last", help="Measure NHWC tensors.")] = False,
    amp: Annotated[
        str | None, typer.Option(help="Measure autocast: bf16 (CPU or GPU) or fp16 (GPU).")
    ] = None,
    compile_: Annotated[
        bool, typer.Option("--compile", help="Measure torch.compile of net and VGG.")
    ] = False,
    loader_workers: Annotated[
        int, typer.Option(help="Also measure loading in the step: in-process vs N DataLoader workers.")
    ] = 0,
    pin_memory: Annotated[
        bool, typer.Option("--pin-memory", help="Workers' batches in pinned memory (CUDA runs).")
    ] = False,
    steps: Annotated[int, typer.Option(help="Timed steps per loop, at least.")] = 5,
    warmup: Annotated[int, typer.Option(help="Untimed steps per loop first.")] = 1,
    min_seconds: Annotated[float, typer.Option(help="Timed seconds per loop, at least.")] = 0.0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    vgg_weights: Annotated[
        Path | None, typer.Option(help="VGG-16 weights (default: $NST_VGG_WEIGHTS).")
    ] = None,
    out_dir: Annotated[Path, typer.Option(help="Where JSON and markdown go.")] = Path("benchmarks"),
    tag: Annotated[str, typer.Option(help="Results file name without suffix.")] = "bench-train",
    force: Annotated[bool, typer.Option(help="Replace existing results.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the cases as JSON.")] = False,
) -> None:
    """Steps/s of the training step: plain loop vs cached Gram, channels-last, AMP, compile, loaders."""
    import nst.assets
    from nst.artifacts import check_targets
    from nst.bench.train_speed import loop_variants, run_train_speed, summary_line, write_train_speed
    from nst.train.config import TrainConfig

    assets = Path(nst.assets.__file__).parent
    variants = loop_variants(channels_last, amp, compile_, loader_workers, pin_memory)  # option errors first
    config = TrainConfig(
        family="johnson", content_dir=str(content or assets),
        styles=(str(style or assets / "style_swirl.png"),),
        model={"base_channels": base_channels, "num_residual": num_residual}, batch_size=batch,
        image_size=size, style_size=style_size, device=device,
        vgg_weights=str(vgg_weights) if vgg_weights else None,
    )  # fmt: skip
    json_path, md_path = check_targets([out_dir / f"{tag}.json", out_dir / f"{tag}.md"], force=force)
    flags = [f"--size {size}", f"--batch {batch}", f"--style-size {style_size}",
             f"--base-channels {base_channels}", f"--num-residual {num_residual}",
             f"--steps {steps}", f"--warmup {warmup}"]  # fmt: skip
    flags += ["--channels-last"] * channels_last + [f"--amp {amp}"] * bool(amp) + ["--compile"] * compile_
    flags += [f"--loader-workers {loader_workers}"] * bool(loader_workers) + ["--pin-memory"] * pin_memory
    flags += [f"--content {shlex.quote(str(content))}"] * bool(content) + [f"--device {device}"] * (
        device != "auto"
    )
    flags += [f"--tag {tag}"] * (tag != "bench-train")
    command = "nst bench-train " + " ".join(flags)
    result = run_train_speed(config, variants, steps=steps, warmup=warmup, min_seconds=min_seconds,
                             progress=lambda name: typer.echo(f"  measuring {name}", err=True))  # fmt: skip
    write_train_speed(result, json_path, md_path, command)
    if as_json:
        typer.echo(json.dumps({"json": str(json_path), "markdown": str(md_path),
                               "cases": [asdict(c) for c in result.cases]}))  # fmt: skip
        return
    typer.echo(f"bench-train: {summary_line(result)} -> {json_path}, {md_path}")
