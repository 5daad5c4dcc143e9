"""``nst stylize`` as a library call: ``stylize(StylizeOptions) -> StylizeResult``.

The CLI builds the options and prints :meth:`StylizeResult.summary`; Python callers use the
same function (or :class:`~nst.runtime.stylizer.Stylizer` for arrays). Every output is
planned and checked before the model is opened, and every option the model cannot take is
an error before any image is read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nst.errors import InputError
from nst.io import DEFAULT_MAX_PIXELS
from nst.jobs import Job, plan_outputs
from nst.runtime.base import Runner
from nst.runtime.registry import MODEL_SUFFIXES, open_runner
from nst.runtime.style_inputs import ExtraInput, load_masks, parse_weights
from nst.runtime.stylizer import Stylizer, default_model_path


@dataclass(frozen=True)
class StylizeOptions:
    """What to stylize, with which model and style choice.

    Attributes:
        inputs: Image files and/or folders; a leading model file (``.onnx``/``.plan``) is taken
            as the model, as on the command line.
        output: Output file (one input) or folder.
        model: The model or engine (None: the leading model file, else the bundled model).
        providers: ONNX Runtime providers (``auto``, ``cpu``, ``cuda``, ``tensorrt``).
        batch_size: Images per inference call.
        max_pixels: Refuse inputs larger than this many pixels.
        force: Overwrite existing outputs.
        style: Multi-style models: a style index or name.
        style_weights: Multi-style models: a convex mix (``"0.3,0.7"`` or numbers).
        masks: StyleBank: a label image, or one grayscale mask file per style.
        seed: texture_style models: the noise seed.
        style_image: Style-swap models: the style image.
        strength: Blend of the result with the photo, in [0, 1] (1: the net's output).
        preserve_color: Keep the photo's colours (the result's luma, the photo's chroma).
        output_format: ``png`` (default), ``jpg``, ``webp``, ``tiff`` or ``bmp`` for folder outputs
            (a file output's suffix must agree).
        quality: JPEG/WebP quality, 1-100.
        tile: ``auto`` (strips when one pass would exceed ``max_memory``), ``off``, or a strip
            height in image rows; strips use whole-image instance-norm statistics.
        max_memory: Memory budget, bytes or ``"4G"`` (default: half the available memory);
            an image that fits neither in one pass nor in strips is refused before decoding.
        tile_stats: ``exact`` (default) or ``thumbnail`` statistics when tiling.
    """

    inputs: tuple[Path, ...]
    output: Path
    model: Path | None = None
    providers: str | Sequence[str] = "auto"
    batch_size: int = 4
    max_pixels: int = DEFAULT_MAX_PIXELS
    force: bool = False
    style: str | int | None = None
    style_weights: str | Sequence[float] | None = None
    masks: tuple[Path, ...] = ()
    seed: int | None = None
    style_image: Path | None = None
    strength: float = 1.0
    preserve_color: bool = False
    output_format: str | None = None
    quality: int = 95
    tile: str | int = "auto"
    max_memory: int | str | None = None
    tile_stats: str = "exact"


@dataclass(frozen=True)
class StylizeResult:
    """What :func:`stylize` wrote, with which model and backend, and how long it took."""

    written: list[Path]
    model: str
    backend: str
    seconds: float
    output: Path

    def summary(self) -> str:
        where = self.written[0] if len(self.written) == 1 else self.output
        return (
            f"stylized {len(self.written)} image(s) with {self.model} [{self.backend}] "
            f"in {self.seconds:.2f}s -> {where}"
        )


def split_model(paths: Sequence[Path], model: Path | None) -> tuple[Path | None, tuple[Path, ...]]:
    """``[MODEL] INPUT...`` -> (model, inputs): a leading model file is the model.

    Raises:
        InputError: Two models (``--model`` and a leading model file), or no input images.
    """
    inputs = list(paths)
    if inputs and inputs[0].suffix.lower() in MODEL_SUFFIXES:
        if model is not None:
            raise InputError(f"two models given: {model} and {inputs[0]}")
        model = inputs.pop(0)
    if not inputs:
        raise InputError("no input images given")
    return model, tuple(inputs)


def stylize(options: StylizeOptions, on_done: Callable[[int, int], None] | None = None) -> StylizeResult:
    """Stylize every input of ``options`` and write the results.

    Args:
        options: See :class:`StylizeOptions`.
        on_done: Called as ``on_done(done, total)`` after each written image (progress bars).

    Raises:
        InputError: No inputs, two models, or a style option the model cannot take.
        OutputExistsError: A target exists and ``force`` is false (checked before any work).
        ModelError, InputImageError: From the model or the images.
    """
    model, inputs = split_model(options.inputs, options.model)
    jobs = plan_outputs(inputs, options.output, force=options.force, output_format=options.output_format)
    start = time.perf_counter()
    multi = options.style is not None or options.style_weights is not None
    runner = open_runner(model or default_model_path(multi), providers=options.providers)
    try:
        extra = choice_inputs(runner, options)
        stylizer = Stylizer(
            runner, batch_size=options.batch_size, max_pixels=options.max_pixels, seed=options.seed,
            strength=options.strength, preserve_color=options.preserve_color, tile=options.tile,
            max_memory=options.max_memory, tile_stats=options.tile_stats, **extra,
        )  # fmt: skip
        done = [0]

        def count(_job: Job) -> None:
            done[0] += 1
            if on_done is not None:
                on_done(done[0], len(jobs))

        written = stylizer.run_jobs(jobs, force=options.force, on_done=count, quality=options.quality)
        name, label = Path(runner.path or "model").name, runner.label
    finally:
        runner.close()
    return StylizeResult(written, name, label, time.perf_counter() - start, options.output)


def choice_inputs(runner: Runner, options: StylizeOptions) -> dict[str, object]:
    """Stylizer keyword arguments for the options' style choice, masks and style image."""
    weights = options.style_weights
    if isinstance(weights, str):
        weights = parse_weights(weights)
    shapes = {t.name: t.shape for t in runner.spec.inputs[1:]}
    if options.masks and "style_masks" not in shapes:
        raise InputError(f"--mask needs a stylebank model, not {runner.metadata.family}")
    masks = load_masks(list(options.masks), int(shapes["style_masks"][1])) if options.masks else None
    inputs: dict[str, ExtraInput] = {}
    if options.style_image is not None:
        from nst.runtime.style_image import style_image_feed

        inputs.update(style_image_feed(runner.spec.inputs, runner.metadata.family, options.style_image))
    out: dict[str, object] = {}
    if options.style is not None:
        out["style"] = options.style
    if weights is not None:
        out["style_weights"] = np.asarray(weights, np.float32)
    if masks is not None:
        out["masks"] = masks
    if inputs:
        out["inputs"] = inputs
    return out
