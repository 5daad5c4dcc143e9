"""``nst batch``: stylize a big corpus with a Ray Data pipeline over an actor pool.

    >>> from nst.runtime.batch_ray import BatchOptions, batch_stylize
    >>> result = batch_stylize(BatchOptions((Path("photos"),), Path("styled"), actors=2))
    >>> print(result.summary())

The driver plans every output with :func:`nst.jobs.plan_outputs` (every target is checked
before any work), then streams ``(source, target)`` rows through ``map_batches`` over a fixed
pool of actors. Each actor opens one :class:`~nst.runtime.base.Runner` with
:func:`~nst.runtime.registry.open_runner`, builds its feeds with a
:class:`~nst.runtime.stylizer.Stylizer` exactly as ``nst stylize`` does, reads with
:func:`nst.io.read_image` and writes with :func:`nst.io.write_image` (names kept, alpha kept,
atomic, never over an existing file without ``force``), and returns one small status row per
image: pixels never travel through Ray's object store, so paths must be on a filesystem every
node sees.

An image that cannot be used (unreadable, corrupt, too large, below the model's minimum
size) is skipped and reported in :attr:`BatchResult.skipped`; any other error (model,
options, an output that cannot be written) stops the job with its own ``NstError``.

Ray is imported only inside :func:`batch_stylize` (``pip install 'nst[ray]'``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

import nst.errors
from nst.errors import InputError, NstError, require
from nst.io import read_image, write_image
from nst.jobs import Job, plan_outputs
from nst.runtime.registry import backend_for, open_runner
from nst.runtime.stylize_job import StylizeOptions, choice_inputs, split_model
from nst.runtime.stylizer import Stylizer, default_model_path

MAX_BLOCKS = 10_000  # input blocks of the dataset: enough to spread work and report progress


@dataclass(frozen=True)
class BatchOptions:
    """A batch job: the ``nst stylize`` options that apply, plus the Ray pool's shape.

    Attributes:
        stylize: Inputs, output, model, providers, batch size, style choice, ... (see
            :class:`~nst.runtime.stylize_job.StylizeOptions`); ``batch_size`` is also the
            number of images per ``map_batches`` call.
        actors: Size of the actor pool (None: one per GPU if the cluster has GPUs, else one
            per node); never more than there are batches.
        cpus_per_actor: CPUs each actor reserves (None: the cluster's CPUs shared out evenly,
            at most one node's, whole CPUs when there is at least one each; 1 with GPUs).
        gpus_per_actor: GPUs each actor reserves (None: 1 where the cluster has GPUs, else 0).
        threads: ONNX Runtime threads per actor (None: ``cpus_per_actor`` rounded down, >= 1).
        resume: Skip inputs whose output already exists (restart an interrupted job).
        ray_address: Ray cluster address (``ray://host:10001``, ``host:6379``, ``auto``, ``local``);
            None: ``ray.init()``'s own choice ($RAY_ADDRESS, else a cluster started on this
            machine, else a new local instance). A Ray already initialised in this process is
            used as is (then give no address).
    """

    stylize: StylizeOptions
    actors: int | None = None
    cpus_per_actor: float | None = None
    gpus_per_actor: float | None = None
    threads: int | None = None
    resume: bool = False
    ray_address: str | None = None


@dataclass(frozen=True)
class BatchResult:
    """What :func:`batch_stylize` wrote and skipped, on how many actors, in how long."""

    written: list[Path]
    skipped: list[tuple[Path, str]]
    existing: int
    model: str
    backend: str
    actors: int
    seconds: float
    output: Path

    @property
    def images_per_second(self) -> float:
        done = len(self.written) + len(self.skipped)
        return done / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        line = (
            f"stylized {len(self.written)} image(s) with {self.model} [{self.backend}] on "
            f"{self.actors} Ray actor(s) in {self.seconds:.2f}s ({self.images_per_second:.2f} img/s) "
            f"-> {self.output}"
        )
        if self.existing:
            line += f"; {self.existing} already there (resumed)"
        if self.skipped:
            line += f"; skipped {len(self.skipped)} unusable image(s)"
        return line


@dataclass(frozen=True)
class _Pool:
    """The actor pool's shape and what each actor passes to ``open_runner``."""

    actors: int
    cpus: float
    gpus: float
    runner_options: dict[str, Any]


def batch_stylize(options: BatchOptions, on_done: Callable[[int, int], None] | None = None) -> BatchResult:
    """Stylize every input of ``options`` on a Ray actor pool and write the results.

    Args:
        options: See :class:`BatchOptions`.
        on_done: Called as ``on_done(done, total)`` once with 0 when the pool starts, then after
            each image (written or skipped).

    Returns:
        The written files, the skipped inputs with their reasons, and the timing.

    Raises:
        InputError: Bad pool options, no inputs, a style option the model cannot take, more
            actors than the cluster can place, or a Ray address that cannot be reached.
        OutputExistsError: A target exists without ``force``/``resume`` (checked before any work).
        MissingDependencyError: Ray is not installed.
        NstError: Any other error an actor met (model, output), re-raised on the driver.
    """
    so = options.stylize
    _check_options(options)
    model, inputs = split_model(so.inputs, so.model)
    jobs = plan_outputs(inputs, so.output, force=so.force or options.resume)
    todo = [j for j in jobs if not (options.resume and j.target.exists())]
    so = _absolute(replace(so, inputs=(), model=model or default_model_path()))
    name, label = _preflight(so, options.threads)
    start = time.perf_counter()
    if not todo:
        return BatchResult([], [], len(jobs), name, label, 0, 0.0, so.output)
    ray: Any = require("ray", "ray")
    ray_data: Any = require("ray.data", "ray")
    started = _connect(ray, options.ray_address)
    try:
        pool = _plan_pool(ray, options, len(todo), so.batch_size, backend_for(so.model or "").name)
        with _quiet(ray_data):
            written, skipped, label = _run(ray_data, so, pool, todo, on_done, label)
    finally:
        if started:
            ray.shutdown()
    existing, seconds = len(jobs) - len(todo), time.perf_counter() - start
    return BatchResult(written, skipped, existing, name, label, pool.actors, seconds, options.stylize.output)


def _check_options(options: BatchOptions) -> None:
    so = options.stylize
    if so.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {so.batch_size}")
    if options.actors is not None and options.actors < 1:
        raise InputError(f"--actors must be >= 1, got {options.actors}")
    if options.cpus_per_actor is not None and options.cpus_per_actor <= 0:
        raise InputError(f"--cpus-per-actor must be > 0, got {options.cpus_per_actor}")
    if options.gpus_per_actor is not None and options.gpus_per_actor < 0:
        raise InputError(f"--gpus-per-actor must be >= 0, got {options.gpus_per_actor}")
    if options.threads is not None and options.threads < 1:
        raise InputError(f"--threads must be >= 1, got {options.threads}")
    if so.force and options.resume:
        raise InputError("--force overwrites every output and --resume keeps existing ones; give one")


def _absolute(so: StylizeOptions) -> StylizeOptions:
    """Paths the actors open, made absolute: their working folder is not the driver's."""
    return replace(
        so, output=so.output.absolute(), model=None if so.model is None else so.model.absolute(),
        masks=tuple(m.absolute() for m in so.masks),
        style_image=None if so.style_image is None else so.style_image.absolute(),
    )  # fmt: skip


def _preflight(so: StylizeOptions, threads: int | None) -> tuple[str, str]:
    """(model name, backend label); an ONNX model is opened once on the driver (CPU) so a bad
    model or style option fails before Ray starts. Engines are checked by the actors."""
    model = so.model or default_model_path()
    if backend_for(model).name != "onnxruntime":
        if threads is not None:
            raise InputError(f"--threads applies to ONNX models; {model.name} is a TensorRT engine")
        return model.name, "tensorrt"
    _open_stylizer(replace(so, providers="cpu"), {}).close()
    return model.name, "onnxruntime"


def _open_stylizer(so: StylizeOptions, runner_options: dict[str, Any]) -> Stylizer:
    """A Stylizer over ``open_runner(so.model)`` with the options' style choice, checked now."""
    runner = open_runner(so.model or default_model_path(), providers=so.providers, **runner_options)
    try:
        extra = choice_inputs(runner, so)
        stylizer = Stylizer(runner, batch_size=so.batch_size, max_pixels=so.max_pixels,
                            seed=so.seed, **extra)  # fmt: skip
        if stylizer.extra_specs and stylizer.extra is None:
            stylizer.extra_inputs()  # a model that needs a style choice says so here
    except BaseException:
        runner.close()
        raise
    return stylizer


def _connect(ray: Any, address: str | None) -> bool:
    """Initialise Ray unless it already is; True when this call started it (and shuts it down).

    Raises:
        InputError: ``address`` cannot be reached, or is given while Ray is already initialised
            in this process (it would be ignored), or ``ray.init`` fails.
    """
    if address:
        _check_reachable(address)
    if ray.is_initialized():
        if address:
            raise InputError(f"Ray is already initialised in this process; drop the address {address!r}")
        return False
    try:
        ray.init(address=address, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        auth = address and "RAY_AUTH_MODE" not in os.environ
        hint = "; a cluster with token authentication needs RAY_AUTH_MODE=token and its token" if auth else ""
        where, first = f"at {address}" if address else "(local)", str(exc).splitlines()[0][:300]
        raise InputError(f"cannot start or reach Ray {where}: {first}{hint}") from exc
    return True


def _check_reachable(address: str) -> None:
    """A ``host:port`` (or ``ray://host:port``) that accepts no TCP connection is an error now:
    ``ray.init`` would wait on it for minutes without a word."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", "local", a bare host name: ray.init decides
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=5).close()
    except OSError as exc:
        raise InputError(f"cannot reach a Ray cluster at {address}: {exc.strerror or exc}") from exc


def _plan_pool(ray: Any, options: BatchOptions, images: int, batch_size: int, backend: str) -> _Pool:
    """The pool's size and per-actor resources, checked against what the cluster has."""
    total = ray.cluster_resources()
    cpus_total, gpus_total = float(total.get("CPU", 0)), float(total.get("GPU", 0))
    nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]
    node_cpus = max((float(n["Resources"]["CPU"]) for n in nodes), default=cpus_total)
    gpus = options.gpus_per_actor if options.gpus_per_actor is not None else (1.0 if gpus_total >= 1 else 0.0)
    actors = options.actors or (int(gpus_total // gpus) if gpus else max(1, len(nodes)))
    actors = max(1, min(actors, math.ceil(images / batch_size)))
    cpus = options.cpus_per_actor
    if cpus is None:
        share = cpus_total / actors if cpus_total else 1.0
        cpus = 1.0 if gpus else min(node_cpus, math.floor(share) if share >= 1 else share)
    if actors * cpus > cpus_total + 1e-9 or actors * gpus > gpus_total + 1e-9:
        raise InputError(
            f"{actors} actor(s) x ({cpus:g} CPU, {gpus:g} GPU) do not fit the Ray cluster "
            f"({cpus_total:g} CPU, {gpus_total:g} GPU); lower --actors, --cpus-per-actor or --gpus-per-actor"
        )
    runner_options: dict[str, Any] = {}
    if backend == "onnxruntime":
        runner_options["threads"] = options.threads or max(1, int(cpus))
    return _Pool(actors, cpus, gpus, runner_options)


def _run(
    ray_data: Any, so: StylizeOptions, pool: _Pool, jobs: list[Job],
    on_done: Callable[[int, int], None] | None, label: str,
) -> tuple[list[Path], list[tuple[Path, str]], str]:  # fmt: skip
    """Stream the jobs through the pool; (written, skipped, backend label of the actors)."""
    rows = [{"source": str(j.source.absolute()), "target": str(j.target.absolute())} for j in jobs]
    relative = {r["target"]: j.target for r, j in zip(rows, jobs, strict=True)}
    ds = ray_data.from_items(rows, override_num_blocks=min(MAX_BLOCKS, math.ceil(len(rows) / so.batch_size)))
    ds = ds.map_batches(
        _StylizeActor, fn_constructor_kwargs={"options": so, "runner_options": pool.runner_options},
        batch_size=so.batch_size, batch_format="numpy", compute=_strategy(ray_data, pool.actors),
        num_cpus=pool.cpus, num_gpus=pool.gpus,
    )  # fmt: skip
    written: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    labels: set[str] = set()
    if on_done is not None:
        on_done(0, len(rows))  # the bar shows while the actors start
    for done, row in enumerate(ds.iter_rows(), start=1):
        status, message = str(row["status"]), str(row["message"])
        if status == "fatal":
            raise _error(str(row["error"]), message)
        if status == "skipped":
            skipped.append((Path(str(row["source"])), message))
        else:
            written.append(relative.get(str(row["target"]), Path(str(row["target"]))))
            labels.add(str(row["backend"]))
        if on_done is not None:
            on_done(done, len(rows))
    return written, skipped, ",".join(sorted(labels)) or label


def _strategy(ray_data: Any, actors: int) -> Any:
    """A fixed pool; where Ray has it, two calls per actor so one reads and writes while the
    other runs the model (inference itself is one at a time per actor, under a lock)."""
    import inspect

    strategy = ray_data.ActorPoolStrategy
    params = inspect.signature(strategy).parameters
    if "enable_true_multi_threading" in params and "max_concurrent_calls_per_actor" in params:
        return strategy(size=actors, max_concurrent_calls_per_actor=2, enable_true_multi_threading=True)
    return strategy(size=actors)


def _error(name: str, message: str) -> NstError:
    """The driver-side NstError for an actor's error class name and message."""
    cls = getattr(nst.errors, name, NstError)
    if not (isinstance(cls, type) and issubclass(cls, NstError)):
        cls = NstError
    return cls(message)


@contextlib.contextmanager
def _quiet(ray_data: Any) -> Iterator[None]:
    """No Ray Data progress bars or INFO lines while the job runs (nst draws its own bar)."""
    context = ray_data.DataContext.get_current()
    bars, context.enable_progress_bars = context.enable_progress_bars, False
    loggers = [logging.getLogger(name) for name in ("ray", "ray.data")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        context.enable_progress_bars = bars
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class _StylizeActor:
    """One Ray actor: one Runner, reading, stylizing and writing the batches it is given.

    ``NstError`` never escapes (Ray would wrap it in a multi-line traceback): a construction
    error is kept and returned as a ``fatal`` row of every batch, which the driver re-raises.
    """

    def __init__(self, options: StylizeOptions, runner_options: dict[str, Any]) -> None:
        self.options = options
        self.lock = threading.Lock()
        self.stylizer: Stylizer | None = None
        self.error: NstError | None = None
        try:
            self.stylizer = _open_stylizer(options, runner_options)
        except NstError as exc:
            self.error = exc

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[str]]:
        sources, targets = [str(s) for s in batch["source"]], [str(t) for t in batch["target"]]
        try:
            if self.stylizer is None:
                raise self.error or NstError("the actor has no model")
            status, message = self._stylize(self.stylizer, sources, targets)
        except NstError as exc:
            status, message = ["fatal"] * len(sources), [str(exc)] * len(sources)
            return _rows(sources, targets, status, message, "", type(exc).__name__)
        return _rows(sources, targets, status, message, self.stylizer.runner.label, "")

    def _stylize(
        self, stylizer: Stylizer, sources: list[str], targets: list[str]
    ) -> tuple[list[str], list[str]]:
        """Read, stylize (same-size images batched), write; (status, message) per image."""
        status, message = ["ok"] * len(sources), [""] * len(sources)
        good = []
        for i, source in enumerate(sources):
            try:
                image = read_image(source, max_pixels=self.options.max_pixels)
                stylizer.runner.spec.check_image_size(image.rgb.shape[0], image.rgb.shape[1])
            except InputError as exc:  # InputImageError too: unreadable, corrupt, too large
                status[i], message[i] = "skipped", str(exc) if source in str(exc) else f"{source}: {exc}"
                continue
            good.append((i, image))
        with self.lock:  # one inference at a time per actor; reads and writes overlap it
            results = stylizer.stylize_images([image for _, image in good])
        for (i, image), rgb in zip(good, results, strict=True):
            write_image(targets[i], rgb, alpha=image.alpha, force=self.options.force)
        return status, message


def _rows(
    sources: list[str], targets: list[str], status: list[str], message: list[str], backend: str, error: str
) -> dict[str, list[str]]:
    n = len(sources)
    return {"source": sources, "target": targets, "status": status, "message": message,
            "backend": [backend] * n, "error": [error] * n}  # fmt: skip
