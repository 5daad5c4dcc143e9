"""``nst stylize``."""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from nst.cli.app import (
    MaskOption,
    SeedOption,
    StyleOption,
    StyleWeightsOption,
    app,
    handle_errors,
    progress_bar,
)
from nst.errors import InputError, did_you_mean

METHODS = ("feedforward", "gatys", "optimize")
PIXEL_METHODS = ("gatys", "optimize")


def check_method(method: str) -> str:
    """Return ``method`` if it is one of :data:`METHODS`; else an InputError with a hint."""
    if method not in METHODS:
        hint = did_you_mean(method, METHODS)
        raise InputError(f"unknown --method {method!r}{hint}; choose one of {', '.join(METHODS)}")
    return method


@app.command()
@handle_errors
def stylize(
    paths: Annotated[list[Path], typer.Argument(help="[MODEL.onnx|MODEL.plan] INPUT... (files or folders).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Output file (one input), folder, or video.")
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="Model (default: the bundled one).")
    ] = None,
    providers: Annotated[
        str | None, typer.Option(help="ONNX models: auto (default), cpu, cuda or tensorrt.")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per inference call (default 4).")] = None,
    max_pixels: Annotated[
        int | None, typer.Option(help="Refuse inputs larger than this many pixels.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite existing outputs.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    style: StyleOption = None,
    style_weights: StyleWeightsOption = None,
    mask: MaskOption = [],  # noqa: B006
    method: Annotated[
        str,
        typer.Option(
            help="feedforward (a model), gatys (L-BFGS on pixels, slow; --style: image) or optimize "
            "(style-swap's L-BFGS variant, slow; --style-image)."
        ),
    ] = "feedforward",
    iters: Annotated[int, typer.Option(help="--method gatys/optimize: L-BFGS iterations.")] = 300,
    seed: SeedOption = None,
    style_image: Annotated[
        Path | None,
        typer.Option(
            help="Style-swap models and --method optimize: the style image (short side resized to 256)."
        ),
    ] = None,
    output_format: Annotated[
        str | None, typer.Option(help="Images: png (default), jpg, webp, tiff or bmp (folders and -o -).")
    ] = None,
    quality: Annotated[int, typer.Option(help="Images: JPEG/WebP quality, 1-100.")] = 95,
    as_json: Annotated[
        bool, typer.Option("--json", help="Images: print one JSON object per result.")
    ] = False,
    strength: Annotated[
        float | None, typer.Option(help="Images: blend with the photo, 0..1 (default 1: the net's output).")
    ] = None,
    preserve_color: Annotated[
        bool, typer.Option("--preserve-color", help="Images: keep the photo's colours (stylized luma).")
    ] = False,
    tile: Annotated[
        str | None,
        typer.Option(
            help="Images: auto (default: strips when one pass would exceed --max-memory), off, or a "
            "strip height in rows; strips use whole-image instance-norm statistics (docs/TILING.md)."
        ),
    ] = None,
    max_memory: Annotated[
        str | None,
        typer.Option(
            help="Images: memory budget, e.g. 4G (default: half the available memory); an image that "
            "fits neither in one pass nor in strips is refused before decoding."
        ),
    ] = None,
    tile_stats: Annotated[
        str | None, typer.Option(help="Images, tiled: exact (default) or thumbnail (faster, approximate).")
    ] = None,
    frames_out: Annotated[
        Path | None, typer.Option(help="Videos: PNG frames into this folder instead of -o.")
    ] = None,
    consistency: Annotated[str | None, typer.Option(help="Videos: flow (default) or none.")] = None,
    blend: Annotated[
        float | None, typer.Option(help="Videos, flow: weight of the warped previous frame, [0, 1) (0.7).")
    ] = None,
    audio: Annotated[bool | None, typer.Option(help="Videos: copy the audio streams (default yes).")] = None,
    crf: Annotated[
        int | None, typer.Option(help="Videos: quality, lower is better (H.264 18, VP9 31).")
    ] = None,
) -> None:
    """Stylize images or a video with an exported model (the bundled default when none is given)."""
    from nst.io import DEFAULT_MAX_PIXELS
    from nst.runtime.stylize_job import StylizeOptions, split_model
    from nst.runtime.stylize_job import stylize as run_stylize

    video: dict[str, object] = {"--frames-out": frames_out, "--consistency": consistency,
                                "--blend": blend, "--audio": audio, "--crf": crf}  # fmt: skip
    image_only: dict[str, object] = {"--strength": strength, "--preserve-color": preserve_color or None,
                                     "--json": as_json or None, "--tile": tile, "--max-memory": max_memory,
                                     "--tile-stats": tile_stats}  # fmt: skip
    if check_method(method) in PIXEL_METHODS:
        _refuse(video, f"--method {method}")
        _refuse(image_only, f"--method {method}", kind="models")
        pixel = _pixel_options(method, paths, output, model, style, style_image, iters, force, max_pixels,
                               progress, seed=seed, providers=providers, batch_size=batch_size,
                               model_options=style_weights is not None or bool(mask))  # fmt: skip
        from nst.train.pixel import pixel_stylize

        typer.echo(pixel_stylize(pixel).summary())
        return
    options = StylizeOptions(
        tuple(paths), output or Path(), model=model, providers=providers or "auto",
        batch_size=4 if batch_size is None else batch_size, max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
        force=force, style=style, style_weights=style_weights, masks=tuple(mask), seed=seed,
        style_image=style_image, strength=1.0 if strength is None else strength,
        preserve_color=preserve_color, output_format=output_format, quality=quality,
        tile=tile or "auto", max_memory=max_memory, tile_stats=_tile_stats(tile, tile_stats),
    )  # fmt: skip
    model_path, inputs = split_model(options.inputs, model)
    if _is_video(inputs):
        _refuse(image_only, "videos", kind="images")
        typer.echo(_stylize_video(options, model_path, inputs[0], output, video, progress))
        return
    _refuse(video, "images")
    if output is None:
        raise InputError("give the output file or folder: -o OUTPUT (or -o - for stdout)")
    with tempfile.TemporaryDirectory(prefix="nst-stdio-") as tmp:
        options, to_stdout = _stdio(options, Path(tmp))
        with progress_bar(progress and not to_stdout, desc="stylize", unit="img", min_total=2) as on_done:
            stylized = run_stylize(options, on_done=on_done)
        if to_stdout:
            sys.stdout.buffer.write(stylized.written[0].read_bytes())
            sys.stdout.buffer.flush()
            stylized = dataclasses.replace(stylized, written=[Path("stdout")])
    if as_json:
        for path in stylized.written:
            record = {"output": str(path), "model": stylized.model, "backend": stylized.backend}
            typer.echo(json.dumps({**record, "seconds": round(stylized.seconds, 3)}), err=to_stdout)
        return
    typer.echo(stylized.summary(), err=to_stdout)


def _tile_stats(tile: str | None, stats: str | None) -> str:
    """``--tile-stats`` (default exact); refused with ``--tile off``, which never tiles."""
    if stats is not None and tile == "off":
        raise InputError("--tile-stats applies to tiled runs, not --tile off")
    if stats is not None and stats not in ("exact", "thumbnail"):
        hint = did_you_mean(stats, ("exact", "thumbnail"))
        raise InputError(f"--tile-stats must be exact or thumbnail, got {stats!r}{hint}")
    return stats or "exact"


def _stdio(options: Any, tmp: Path) -> tuple[Any, bool]:
    """``-`` as the input (stdin) or the output (stdout), through files in ``tmp``."""
    from nst.jobs import output_suffix
    from nst.runtime.registry import MODEL_SUFFIXES

    inputs = list(options.inputs)
    if Path("-") in inputs:
        if len([p for p in inputs if p.suffix.lower() not in MODEL_SUFFIXES]) != 1:
            raise InputError("- (stdin) must be the only input image")
        data = sys.stdin.buffer.read()
        if not data:
            raise InputError(
                "stdin is empty: pipe an image in, e.g. cat photo.jpg | nst stylize - -o out.png"
            )
        (tmp / "stdin").write_bytes(data)
        inputs[inputs.index(Path("-"))] = tmp / "stdin"
    to_stdout = options.output == Path("-")
    output = tmp / f"stdout{output_suffix(options.output_format)}" if to_stdout else options.output
    return dataclasses.replace(options, inputs=tuple(inputs), output=output), to_stdout


def _refuse(flags: dict[str, object], what: str, *, kind: str = "videos") -> None:
    """Raise if any of ``flags`` (options only ``kind`` take) was given for ``what``."""
    given = [flag for flag, value in flags.items() if value is not None]
    if given:
        raise InputError(f"{', '.join(given)} apply to {kind}, not {what}")


def _pixel_options(
    method: str, paths: list[Path], output: Path | None, model: Path | None, style: str | None,
    style_image: Path | None, iters: int, force: bool, max_pixels: int | None, progress: bool, *,
    seed: int | None, providers: str | None, batch_size: int | None, model_options: bool,
) -> Any:  # fmt: skip
    """The :class:`~nst.train.pixel.PixelOptions` of ``--method gatys|optimize``, refusing model flags."""
    from nst.runtime.registry import MODEL_SUFFIXES
    from nst.train.pixel import PixelOptions

    flags = (("--seed", seed), ("--providers", providers), ("--batch-size", batch_size))
    given = [flag for flag, value in flags if value is not None]
    if given:
        raise InputError(f"{', '.join(given)} apply to models, not --method {method} (torch on the CPU)")
    if model is not None or any(p.suffix.lower() in MODEL_SUFFIXES for p in paths):
        raise InputError(f"--method {method} optimises pixels and takes no model; drop the model/--model")
    if model_options:
        raise InputError(f"--style-weights and --mask apply to multi-style models, not --method {method}")
    if output is None:
        raise InputError("give the output file or folder: -o OUTPUT")
    return PixelOptions(method, tuple(paths), output, style=None if style is None else Path(style),
                        style_image=style_image, iters=iters, force=force, max_pixels=max_pixels,
                        progress=progress)  # fmt: skip


def _is_video(inputs: tuple[Path, ...]) -> bool:
    """One input that is a video container (probed, not by suffix alone)."""
    if len(inputs) != 1 or not inputs[0].is_file():
        return False
    from nst.runtime.video import is_video

    return is_video(inputs[0])


def _stylize_video(
    options: Any, model: Path | None, source: Path, output: Path | None, flags: dict[str, object],
    progress: bool,
) -> str:  # fmt: skip
    """Run the video job for ``source`` with the image options plus the video-only flags."""
    from nst.runtime.video import VideoOptions, stylize_video

    given = {k.removeprefix("--").replace("-", "_"): v for k, v in flags.items() if v is not None}
    video = VideoOptions(
        source, output, model=model, providers=options.providers, batch_size=options.batch_size,
        force=options.force, style=options.style, style_weights=options.style_weights, masks=options.masks,
        seed=options.seed, style_image=options.style_image, **given,
    )  # fmt: skip
    with progress_bar(progress, desc="stylize", unit="frame") as on_frame:
        return stylize_video(video, on_frame).summary()


# Registered here beside `stylize` (whose --tile path uses it), so cli/main.py needs no new import.
@app.command("export-tiled")
@handle_errors
def export_tiled(
    model: Annotated[Path, typer.Argument(help="The .onnx model.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The statistics-fed variant (.onnx).")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing output.")] = False,
) -> None:
    """Write the variant whose InstanceNorm layers take mean/variance as inputs (docs/TILING.md)."""
    from nst.runtime.tiling import export_stats_model

    written = export_stats_model(model, output, force=force)
    typer.echo(f"wrote {written} (InstanceNorm layers read nst_in_mean_k / nst_in_var_k)")
