"""The one artefact layer: check targets before work, stage, validate, then commit atomically.

Every file nst writes (images, checkpoints, ONNX models, engines, sidecars, caches, reports)
goes through here:

    >>> (target,) = check_targets([out], force=force)        # before any long work
    >>> with staged(target) as tmp:                           # hidden temp file beside it
    ...     write(tmp); validate(tmp)                         # raise -> tmp removed, target untouched
    ... # no exception: fsync + rename over target

Temp files are created by the caller's writer with ``open``/``os.open`` mode 0o666, so the
result gets the usual umask permissions (``mkstemp`` would give 0600).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

from nst.errors import InputError, OutputError, OutputExistsError


def check_targets(
    paths: Iterable[str | Path], *, force: bool, sources: Iterable[str | Path] = (), what: str = ""
) -> list[Path]:
    """Check, before any work, that every target may be written.

    Args:
        paths: Files to be written.
        force: Allow replacing existing files.
        sources: Inputs of the job; writing over one of them is refused even with ``force``.
        what: Extra hint appended to the "already exists" message (e.g. ``" (or --tag NAME)"``).

    Returns:
        The targets as Paths, in order.

    Raises:
        InputError: A target is a folder or one of the sources.
        OutputExistsError: A target exists and ``force`` is False.
    """
    resolved_sources = {Path(s).resolve() for s in sources if Path(s).exists()}
    out = []
    for p in paths:
        target = Path(p)
        if target.is_dir():
            raise InputError(f"cannot write {target}: it is a folder")
        if target.exists() and target.resolve() in resolved_sources:
            raise InputError(f"output {target} is an input of this job; choose another output")
        if target.exists() and not force:
            raise OutputExistsError(f"{target} already exists; use --force to overwrite{what}")
        out.append(target)
    return out


@contextlib.contextmanager
def staged(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on a clean exit it is fsynced and renamed over ``path``.

    The caller writes (and validates) the temp file inside the block; any exception removes
    it and leaves ``path`` as it was, so a crash or a failed validation never leaves a
    half-written or stale file under the target name.

    Raises:
        OutputError: The folder cannot be created or written, or the disk is full.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        if tmp.exists():
            _fsync(tmp)
            os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (staged, fsynced, renamed).

    Raises:
        OutputError: The folder is missing or not writable, or the disk is full.
    """
    target = Path(path)
    with staged(target) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return target


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def human_size(n: int) -> str:
    """``1536`` -> ``1.5 KB`` (binary units, as file managers show)."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
