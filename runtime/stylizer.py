"""Stylizer: the user-facing way to run any nst model on arrays, files and folders.

    >>> from nst.runtime.stylizer import Stylizer
    >>> with Stylizer() as s:                      # the bundled default model
    ...     s.stylize_file("photo.jpg", "out.png")

Images of the same size are batched together; transparent inputs get their alpha back in
formats that carry it (PNG, WebP, TIFF).

Multi-style models need a style choice, given once or per call::

    >>> with Stylizer("cin.onnx", style="swirl") as s:             # or style=2
    ...     s.stylize_file("photo.jpg", "out.png")
    ...     mixed = s.stylize_array(photo, style_weights=[0.3, 0.7])
    >>> Stylizer("bank.onnx", masks=load_masks(["regions.png"], 2))  # StyleBank region fusion

Any other model input (a style image, noise) goes in ``inputs={name: array or fn(n, h, w)}``.

Images larger than the memory budget run in strips with whole-image instance-norm statistics
(``tile="auto"``, ``max_memory="4G"``; see docs/TILING.md)::

    >>> Stylizer(tile="auto", max_memory="4G").stylize_file("48mp.jpg", "out.png")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from types import TracebackType

import numpy as np

from nst.errors import InputError
from nst.io import (
    DEFAULT_MAX_PIXELS,
    LoadedImage,
    image_from_array,
    image_size,
    read_image,
    write_image,
)
from nst.jobs import Job, plan_outputs
from nst.runtime.base import Runner
from nst.runtime.controls import Controls, in_graph
from nst.runtime.registry import open_runner
from nst.runtime.style_inputs import ExtraInput, materialise, noise_feeds, style_feeds
from nst.runtime.tiling.memory import TileSetting, default_max_memory, parse_memory
from nst.runtime.tiling.planner import SMALL_PIXELS, Planner

DEFAULT_MODEL = "default_model.onnx"
MULTISTYLE_MODEL = "multistyle_model.onnx"


def default_model_path(multi_style: bool = False) -> Path:
    """Path of the model shipped inside the package.

    Args:
        multi_style: A style choice was given (a name or weights): the bundled multi-style
            model when the package has one, else the single-style default.
    """
    assets = resources.files("nst.assets")
    if multi_style and (assets / MULTISTYLE_MODEL).is_file():
        return Path(str(assets / MULTISTYLE_MODEL))
    return Path(str(assets / DEFAULT_MODEL))


class Stylizer:
    """Stylize images with an exported nst model.

    Args:
        model: ``.onnx`` path, an existing :class:`Runner`, or None for the bundled model.
        providers: ONNX Runtime providers (``auto``, ``cpu``, ``cuda``, ...).
        batch_size: Max images per inference call (same-size images are grouped).
        max_pixels: Decompression-bomb limit for input files.
        style: Multi-style models: one style by index or name (``nst.styles`` metadata).
        style_weights: Multi-style models: a convex mix of all S styles.
        masks: StyleBank: (S, Hm, Wm) per-pixel style masks at any resolution.
        inputs: Values of any other model input, by name: an array, or a function of the
            batch's (N, H, W); arrays without the leading batch axis repeat over the batch.
        seed: Texture stylization models: the seed of their noise inputs (default 0); an
            error for models without noise.
        strength: Blend of the result with the photo, in [0, 1] (1: the net's output).
        preserve_color: Keep the photo's colours (the result's luma, the photo's chroma).
        tile: ``auto`` (strips when one pass would exceed ``max_memory``), ``off``, or a strip
            height in image rows (full-width strips).
        max_memory: Memory budget (bytes or ``"4G"``); default half the available memory.
        tile_stats: ``exact`` (whole-image norm statistics) or ``thumbnail`` (faster, approximate).
    """

    def __init__(
        self, model: str | Path | Runner | None = None, *, providers: str | Sequence[str] = "auto",
        batch_size: int = 4, max_pixels: int = DEFAULT_MAX_PIXELS, style: int | str | None = None,
        style_weights: Sequence[float] | np.ndarray | None = None, masks: np.ndarray | None = None,
        inputs: Mapping[str, ExtraInput] | None = None, seed: int | None = None, strength: float = 1.0,
        preserve_color: bool = False, tile: str | int = "auto", max_memory: int | str | None = None,
        tile_stats: str = "exact",
    ) -> None:  # fmt: skip
        controls = Controls(strength, preserve_color)
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        setting = TileSetting.parse(tile)
        budget = default_max_memory() if max_memory is None else parse_memory(max_memory)
        if tile_stats not in ("exact", "thumbnail"):
            raise InputError(f"tile_stats must be exact or thumbnail, got {tile_stats!r}")
        if isinstance(model, Runner):
            self.runner = model
        else:
            multi = style is not None or style_weights is not None
            self.runner = open_runner(model or default_model_path(multi), providers=providers)
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.input_name = self.runner.spec.inputs[0].name
        self.output_name = self.runner.spec.outputs[0].name
        self.extra_specs = self.runner.spec.inputs[1:]
        self.controls, strength_feed = in_graph(controls, self.extra_specs)  # style-swap: in the graph
        self.noise = {**noise_feeds(self.extra_specs, seed), **strength_feed}  # {} unless noise/strength
        self.extra: dict[str, ExtraInput] | None = None  # None: nothing chosen at construction
        if style is not None or style_weights is not None or masks is not None or inputs:
            self.extra = self.extra_inputs(
                style=style, style_weights=style_weights, masks=masks, inputs=inputs
            )
        self.providers = providers
        self.planner = Planner(self.runner.path, self.runner.spec, self._probe_feed, setting, budget,
                               tile_stats, _ort_providers(self.runner))  # fmt: skip

    def _probe_feed(self, height: int, width: int) -> dict[str, np.ndarray]:
        """A full feed for an image of ``height`` x ``width`` (the tiling graph probe)."""
        image = np.random.default_rng(0).random((1, 3, height, width), dtype=np.float32)
        feed = {self.input_name: image}
        if self.extra_specs:
            chosen = self.extra if self.extra is not None else self.extra_inputs()
            feed.update(materialise(self.extra_specs, chosen, 1, height, width))
        return feed

    def extra_inputs(
        self, *, style: int | str | None = None, style_weights: Sequence[float] | np.ndarray | None = None,
        masks: np.ndarray | None = None, inputs: Mapping[str, ExtraInput] | None = None,
    ) -> dict[str, ExtraInput]:  # fmt: skip
        """The non-image inputs for a style choice plus explicit ``inputs`` (see the class).

        Raises:
            InputError: The model cannot take the choice, or needs one and none is given.
        """
        names = self.runner.metadata.styles
        explicit = dict(inputs or {})
        known = [t.name for t in self.extra_specs]
        unknown = [k for k in explicit if k not in known]
        if unknown:
            raise InputError(f"unknown model input(s) {unknown} (extra inputs: {known})")
        given = style is not None or style_weights is not None or masks is not None
        if not given and "style_weights" in explicit:
            return {**self.noise, **explicit}
        chosen = style_feeds(
            self.runner.spec.inputs, names, style=style, style_weights=style_weights, masks=masks
        )
        return {**self.noise, **chosen, **explicit}

    def __enter__(self) -> Stylizer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.runner.close()

    def stylize_batch(self, batch: np.ndarray, extra: Mapping[str, ExtraInput] | None = None) -> np.ndarray:
        """(N, 3, H, W) float32 in [0, 1] -> stylized, same shape.

        ``extra`` replaces the Stylizer's own extra inputs (see :meth:`extra_inputs`).
        """
        feed = {self.input_name: batch}
        chosen = self.extra if extra is None else extra
        if self.extra_specs:
            chosen = self.extra_inputs() if chosen is None else chosen  # none given: says what is needed
            feed.update(materialise(self.extra_specs, chosen, *batch.shape[:1], *batch.shape[2:]))
        return self.runner.infer(feed)[self.output_name]

    def stylize_array(self, image: np.ndarray, **choice: object) -> np.ndarray:
        """One image (uint8/uint16/float; gray, RGB or RGBA, H x W [x C]) -> (H, W, 3) float32.

        ``choice``: ``style``, ``style_weights``, ``masks`` or ``inputs`` for this call only.
        """
        return self.stylize_images([image_from_array(image)], **choice)[0]  # type: ignore[arg-type]

    def stylize_images(
        self, images: Sequence[LoadedImage], *, style: int | str | None = None,
        style_weights: Sequence[float] | np.ndarray | None = None, masks: np.ndarray | None = None,
        inputs: Mapping[str, ExtraInput] | None = None,
    ) -> list[np.ndarray]:  # fmt: skip
        """Stylize loaded images, batching equal sizes; results in input order.

        A style choice given here replaces the one given to the constructor for this call.
        """
        extra = None
        if style is not None or style_weights is not None or masks is not None or inputs:
            extra = self.extra_inputs(style=style, style_weights=style_weights, masks=masks, inputs=inputs)
        results: list[np.ndarray | None] = [None] * len(images)
        one_pass = []
        for i, image in enumerate(images):
            rows = self.planner.decide(image.size[0], image.size[1]).strip_rows
            if rows:
                rgb = self.stylize_tiled(image, rows, extra)
                results[i] = self.controls.apply(image.rgb, rgb) if self.controls.active else rgb
            else:
                one_pass.append(i)
        for group in _batches_by_size([images[i].rgb.shape for i in one_pass], self.batch_size):
            indices = [one_pass[j] for j in group]
            batch = np.stack([images[i].rgb.transpose(2, 0, 1) for i in indices]).astype(np.float32)
            out = self.stylize_batch(batch) if extra is None else self.stylize_batch(batch, extra)
            for i, result in zip(indices, out, strict=True):
                rgb = np.ascontiguousarray(result.transpose(1, 2, 0))
                results[i] = self.controls.apply(images[i].rgb, rgb) if self.controls.active else rgb
        return [r for r in results if r is not None]

    def stylize_tiled(
        self, image: LoadedImage, strip_rows: int, extra: Mapping[str, ExtraInput] | None = None
    ) -> np.ndarray:
        """One image in strips of ``strip_rows`` rows (exact or thumbnail statistics) -> (H, W, 3)."""
        height, width = image.rgb.shape[:2]
        feed = {self.input_name: image.rgb.transpose(2, 0, 1)[None]}  # a view: no full-size copy
        chosen = self.extra if extra is None else extra
        if self.extra_specs:
            chosen = self.extra_inputs() if chosen is None else chosen
            feed.update(materialise(self.extra_specs, chosen, 1, height, width))
        self.runner.check_feed(feed)
        return self.planner.run(feed, strip_rows)

    def stylize_file(self, source: str | Path, target: str | Path, *, force: bool = False) -> Path:
        """Stylize one file into ``target`` (alpha kept where the format allows)."""
        (job,) = plan_outputs([source], target, force=force)
        return self.run_jobs([job], force=force)[0]

    def run_jobs(
        self, jobs: Sequence[Job], *, force: bool = False, on_done: Callable[[Job], None] | None = None,
        quality: int = 95,
    ) -> list[Path]:  # fmt: skip
        """Run planned jobs, ``batch_size`` files in memory at a time (``quality``: JPEG/WebP)."""
        written = []
        for chunk in self._chunks(jobs):
            images = [read_image(j.source, max_pixels=self.max_pixels) for j in chunk]
            for job, image, rgb in zip(chunk, images, self.stylize_images(images), strict=True):
                written.append(write_image(job.target, rgb, alpha=image.alpha, force=force, quality=quality))
                if on_done is not None:
                    on_done(job)
        return written

    def _chunks(self, jobs: Sequence[Job]) -> Iterator[list[Job]]:
        """Up to ``batch_size`` jobs at a time; an image that must be tiled (from its header,
        checked against the memory budget before decoding) goes alone."""
        chunk: list[Job] = []
        for job in jobs:
            width, height = image_size(job.source, max_pixels=self.max_pixels)
            if self.planner.decide(width, height).strip_rows or width * height > self.planner_small:
                if chunk:
                    yield chunk
                chunk = []
                yield [job]
                continue
            chunk.append(job)
            if len(chunk) == self.batch_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    planner_small = SMALL_PIXELS  # pixels above which an image is read and run alone


def _ort_providers(runner: Runner) -> list[str] | None:
    """The ONNX Runtime providers a runner uses (None for other backends: the CPU)."""
    providers = getattr(runner, "providers", None)
    return list(providers) if providers else None


def _batches_by_size(shapes: Sequence[tuple[int, ...]], batch_size: int) -> Iterator[list[int]]:
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, shape in enumerate(shapes):
        groups.setdefault(shape, []).append(i)
    for indices in groups.values():
        for start in range(0, len(indices), batch_size):
            yield indices[start : start + batch_size]
