"""Per image: one pass or strips, and how tall, within a memory budget (``--tile``, ``--max-memory``).

The :class:`Planner` decides from the image's header size, before any pixel is decoded, so
an image that would not fit is refused with a one-line error instead of being killed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nst.contract.spec import ExportSpec
from nst.runtime.tiling.memory import (
    MemoryBudgetError,
    TileSetting,
    format_bytes,
    one_pass_bytes,
    strip_rows_for,
    tiled_bytes,
)

#: Below this many pixels every model runs in one pass without analysing its graph.
SMALL_PIXELS = 1_000_000
Feed = dict[str, np.ndarray]


@dataclass(frozen=True)
class Decision:
    """``strip_rows`` 0: one pass; else strips of that many image rows."""

    strip_rows: int
    estimate: int  # estimated peak resident bytes


class Planner:
    """Chooses one pass or strips for each image of a model (see the module docstring).

    Args:
        path: The ONNX model (None for engines: those only run in one pass).
        spec: Its I/O contract.
        make_feed: (height, width) -> a feed of every input, for the graph probe.
        tile: ``--tile`` (auto, off, or strip rows).
        budget: ``--max-memory`` in bytes.
        stats: ``exact`` or ``thumbnail`` statistics when tiling.
        providers: ONNX Runtime providers for the strip sessions.
    """

    def __init__(self, path: Path | None, spec: ExportSpec, make_feed: Callable[[int, int], Feed],
                 tile: TileSetting, budget: int, stats: str = "exact",
                 providers: list[str] | None = None) -> None:  # fmt: skip
        self.path, self.spec, self.make_feed = path, spec, make_feed
        self.tile, self.budget, self.stats, self.providers = tile, budget, stats, providers
        self._model: object | None = None

    def tiled_model(self) -> object:
        """The analysed :class:`~nst.runtime.tiling.TiledModel` (made once)."""
        if self._model is None:
            from nst.runtime.tiling import TiledModel, TilingError

            if self.path is None or self.path.suffix.lower() != ".onnx":
                raise TilingError("tiling needs an .onnx model, not an engine; use --tile off")
            try:
                self._model = TiledModel(self.path, self.spec, self.make_feed, self.providers)
            except TilingError as exc:
                reason = str(exc).removeprefix("cannot tile: ")
                raise TilingError(f"cannot tile this {self.spec.family} model: {reason}") from exc
        return self._model

    def decide(self, width: int, height: int) -> Decision:
        """One pass or strips for a ``width`` x ``height`` image.

        Raises:
            MemoryBudgetError: It fits neither way (or not the way asked) within the budget.
            TilingError: Strips are needed or asked for and the model cannot run in strips.
        """
        pixels = width * height
        if self.tile.mode == "off" and (pixels <= SMALL_PIXELS or self.path is None):
            return Decision(0, 0)
        if self.tile.mode == "auto" and pixels <= SMALL_PIXELS:
            return Decision(0, 0)
        if self.tile.mode == "off":
            return self._one_pass_or_raise(width, height)
        if self.tile.mode == "auto":  # engines and models that cannot run in strips: one pass, as before
            from nst.runtime.tiling import TilingError

            try:
                model = self.tiled_model()
            except TilingError:
                return Decision(0, 0)
        else:
            model = self.tiled_model()
        one = one_pass_bytes(pixels, model.plan.one_pass_bytes_per_pixel)  # type: ignore[attr-defined]
        if self.tile.mode == "auto" and one <= self.budget:
            return Decision(0, one)
        bpp, halo = self._strip_cost(model)
        fits = strip_rows_for(self.budget, height, width, bpp, halo, model.plan.align)  # type: ignore[attr-defined]
        if self.tile.mode == "rows":
            if self.tile.rows > fits and self.tile.rows < height:
                raise MemoryBudgetError(
                    f"--tile {self.tile.rows} needs more than --max-memory {format_bytes(self.budget)} "
                    f"for a {width}x{height} image; use --tile auto or --tile {fits} or less"
                )
            return Decision(self.tile.rows, self._estimate(width, height, self.tile.rows, bpp, halo))
        return Decision(fits, self._estimate(width, height, fits, bpp, halo))

    def _strip_cost(self, model: object) -> tuple[float, int]:
        if self.stats == "thumbnail":  # the whole graph per strip, with the sum of the halos
            plan = model.plan  # type: ignore[attr-defined]
            return plan.one_pass_bytes_per_pixel * 0.5, sum(s.radius for s in plan.segments)
        return model.strip_bytes_per_pixel, model.max_halo  # type: ignore[attr-defined]

    def _estimate(self, width: int, height: int, rows: int, bpp: float, halo: int) -> int:
        return tiled_bytes(width * height, width, rows, bpp, halo)

    def _one_pass_or_raise(self, width: int, height: int) -> Decision:
        from nst.errors import MissingDependencyError
        from nst.runtime.tiling import TilingError

        try:
            model = self.tiled_model()
        except (TilingError, MissingDependencyError):  # no estimate for this model: as before
            return Decision(0, 0)
        one = one_pass_bytes(width * height, model.plan.one_pass_bytes_per_pixel)  # type: ignore[attr-defined]
        if one > self.budget:
            raise MemoryBudgetError(
                f"a {width}x{height} image needs about {format_bytes(one)} in one pass, over --max-memory "
                f"{format_bytes(self.budget)}; use --tile auto (strips) or raise --max-memory"
            )
        return Decision(0, one)

    def run(self, feed: Feed, strip_rows: int, on_strip: Callable[[], None] | None = None) -> np.ndarray:
        """Stylize one image (a full feed, batch 1) in strips -> (H_out, W_out, C) float32."""
        model = self.tiled_model()
        return model.stylize(feed, strip_rows=strip_rows, stats=self.stats, on_strip=on_strip)  # type: ignore[attr-defined]
