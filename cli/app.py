"""The ``nst`` Typer app and the helpers every command shares.

Each command parses options, calls one library function and prints one summary line;
every :class:`~nst.errors.NstError` becomes ``error: ...`` and exit code 1 in
:func:`handle_errors`. Heavy libraries are imported inside the commands, so ``nst --help``
stays fast and torch-free.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from nst.errors import InputError, NstError

F = TypeVar("F", bound=Callable[..., Any])

# The model options ``nst stylize`` and ``nst batch`` share (one declaration, one help text).
StyleOption = Annotated[str | None, typer.Option("--style", help="Multi-style models: style index or name.")]
StyleWeightsOption = Annotated[
    str | None, typer.Option(help="Multi-style models: convex mix, e.g. 0.3,0.7 (sums to 1).")
]
MaskOption = Annotated[
    list[Path],
    typer.Option(help="StyleBank regions: a label image (flat colours) or a grayscale file per style."),
]
SeedOption = Annotated[
    int | None, typer.Option(help="texture_style models: seed of the noise inputs (default 0).")
]

app = typer.Typer(
    name="nst", help="Fast neural style transfer: train, export, stylize, inspect, benchmark.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)  # fmt: skip


def handle_errors(fn: F) -> F:
    """Turn NstError into a one-line message on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NstError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def parse_key_values(items: list[str], what: str) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (values parsed as JSON when they can be)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"{what} expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


@contextlib.contextmanager
def progress_bar(
    enabled: bool, *, desc: str, unit: str, min_total: int = 1
) -> Iterator[Callable[[int, int | None], None]]:
    """An ``on_done(done, total)`` callback for the jobs, drawing a tqdm bar (rate and ETA).

    The bar is made at the first call (so an early error prints only its line) and stays
    hidden when ``enabled`` is false or ``total`` is below ``min_total``.
    """
    from tqdm import tqdm

    bars: list[Any] = []

    def update(done: int, total: int | None) -> None:
        if not bars:
            hidden = not enabled or (total is not None and total < min_total)
            bars.append(tqdm(total=total, disable=hidden, desc=desc, unit=unit))
        bars[0].update(done - bars[0].n)

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()


def human_bytes(n: int) -> str:
    """``1536`` -> ``1.5 KB``."""
    from nst.artifacts import human_size

    return human_size(n)
