"""Pixel-space L-BFGS one iteration at a time, without evaluating any point twice.

Used by Gatys optimisation (:mod:`nst.train.gatys`) and style-swap's optimisation variant
(:func:`nst.train.models.styleswap.styleswap_optimize`). Stepping torch's LBFGS one iteration
per ``step`` call (for progress bars, loss history and snapshots) makes it re-evaluate the
current point at the start of every call, though its line search has just evaluated it; that
would double the cost. :class:`CachedObjective` remembers the points it evaluated and answers
the repeat from the cache: the accepted point is built with the same in-place add as the
evaluated trial point, so it is bit-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

Losses = dict[str, torch.Tensor]


class CachedObjective:
    """The L-BFGS closure over ``x``; ``evaluate()`` returns losses with a ``"total"`` entry."""

    def __init__(self, x: torch.Tensor, evaluate: Callable[[], Losses]) -> None:
        self.x, self.evaluate = x, evaluate
        self.seen: list[tuple[torch.Tensor, dict[str, float], torch.Tensor]] = []
        self.evaluations = 0

    def __call__(self) -> torch.Tensor:
        for point, seen_losses, grad in reversed(self.seen):
            if torch.equal(point, self.x):
                self.x.grad = grad.clone()
                return torch.tensor(seen_losses["total"])
        self.x.grad = None
        losses = self.evaluate()
        losses["total"].backward()
        assert self.x.grad is not None  # backward through x always sets it
        self.seen.append((self.x.detach().clone(), {k: float(v.detach()) for k, v in losses.items()},
                          self.x.grad.clone()))  # fmt: skip
        self.evaluations += 1
        return losses["total"].detach()

    def current(self) -> dict[str, float]:
        """Losses at the current point (normally a cache hit); forget every other point."""
        self()
        match = [entry for entry in self.seen if torch.equal(entry[0], self.x)]
        self.seen = match[-1:]
        return dict(match[-1][1])


def lbfgs_iterations(
    objective: CachedObjective, iterations: int, history_size: int = 100
) -> Iterator[dict[str, float]]:
    """Run up to ``iterations`` strong-Wolfe L-BFGS iterations on ``objective.x``.

    Yields the losses after each iteration; stops early when the gradient falls below
    torch's tolerance (converged).
    """
    x = objective.x
    # max_eval must leave the line search its 25 tries; torch's default for max_iter=1 leaves none.
    optimizer = torch.optim.LBFGS([x], lr=1.0, max_iter=1, max_eval=26, history_size=history_size,
                                  line_search_fn="strong_wolfe")  # fmt: skip
    for _ in range(iterations):
        before = optimizer.state[x].get("n_iter", 0)
        optimizer.step(objective)
        if optimizer.state[x].get("n_iter", 0) == before:
            return
        yield objective.current()
