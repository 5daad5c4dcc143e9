"""The stylize service: models by name, each with its batching worker; all the work behind the routes.

:class:`StyleService` opens every model through :func:`nst.runtime.registry.open_runner`,
warms it up, and turns a :class:`~nst.serve.parsing.StylizeRequest` into an encoded image:
options and uploads are checked and decoded off the event loop, the image waits in its
model's bounded queue for a batch, and the answer is encoded off the loop again. Every
failure is an :class:`~nst.errors.NstError` that :mod:`nst.serve.errors` maps to a status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from nst.contract.spec import TensorSpec
from nst.errors import InputError, did_you_mean
from nst.runtime.base import Runner
from nst.runtime.controls import Controls, in_graph
from nst.runtime.registry import open_runner
from nst.runtime.style_inputs import STRENGTH, parse_weights
from nst.serve.batcher import Job, ModelWorker, infer_batch
from nst.serve.choice import Choice, Options, choose, digest, needs
from nst.serve.errors import RequestTimeoutError, UnavailableError, UnknownModelError
from nst.serve.images import MEDIA_TYPES, decode_image, decode_style_image, encode_image, negotiate
from nst.serve.metrics import Metrics
from nst.serve.options import ServeOptions
from nst.serve.parsing import StylizeRequest

WARMUP_SIZE = 64
log = logging.getLogger("nst.serve")


@dataclass(frozen=True)
class StylizeResult:
    """An answered request: the encoded image and what made it."""

    body: bytes
    media_type: str
    model: str
    width: int
    height: int


@dataclass(frozen=True)
class ServedModel:
    """One model the service runs, with its worker."""

    name: str
    runner: Runner
    worker: ModelWorker

    def describe(self, default: bool) -> dict[str, Any]:
        """The model as ``GET /v1/models`` lists it."""
        meta, spec = self.runner.metadata, self.runner.spec
        return {
            "name": self.name, "default": default, "family": meta.family, "styles": list(meta.styles),
            "file": self.runner.path.name if self.runner.path else None, "backend": self.runner.label,
            "precision": self.runner.precision, "min_size": spec.min_size, "inputs": _tensors(spec.inputs),
            "outputs": _tensors(spec.outputs), "needs": asdict(needs(meta)), "queue_depth": self.worker.depth,
        }  # fmt: skip


def _tensors(specs: Sequence[TensorSpec]) -> list[dict[str, Any]]:
    return [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype, "doc": t.doc} for t in specs]


class StyleService:
    """Runs stylize requests on named models with dynamic batching.

    Args:
        runners: Model name -> an opened runner (the first is the default model); the
            service owns them and closes them in :meth:`close`.
        options: Limits and batching (``options.models`` is not read: see :meth:`open`).
    """

    def __init__(self, runners: Mapping[str, Runner], options: ServeOptions) -> None:
        if not runners:
            raise InputError("no model to serve")
        self.options = options.check()
        self.models = {name: self._serve(name, runner) for name, runner in runners.items()}
        self.metrics = Metrics(options.max_batch, self.queue_depths)
        self.default = next(iter(self.models))
        self.ready = False
        self._started = False

    @classmethod
    def open(cls, options: ServeOptions) -> StyleService:
        """Open ``options.models`` (the bundled model when empty) and make the service.

        Raises:
            ModelError, InputError, MissingDependencyError: A model cannot be opened.
        """
        from nst.runtime.stylizer import default_model_path

        paths = dict(options.check().models) or {"default": default_model_path()}
        extra = {} if options.threads is None else {"threads": options.threads}
        runners: dict[str, Runner] = {}
        try:
            for name, path in paths.items():
                runners[name] = open_runner(path, providers=options.providers, **extra)
            return cls(runners, options)
        except BaseException:
            for runner in runners.values():
                runner.close()
            raise

    def _serve(self, name: str, runner: Runner) -> ServedModel:
        def on_batch(size: int, seconds: float) -> None:
            self.metrics.batch_size.observe(size, model=name)
            self.metrics.inference.observe(seconds, model=name)

        worker = ModelWorker(
            name, runner, max_batch=self.options.max_batch, wait_s=self.options.batch_wait_ms / 1e3,
            queue_size=self.options.queue_size, on_batch=on_batch,
        )  # fmt: skip
        return ServedModel(name, runner, worker)

    def start(self) -> None:
        """Warm every model up (when ``options.warmup``) and start the workers."""
        if self._started:
            return
        for served in self.models.values():
            if self.options.warmup:
                _warm_up(served.runner)
            served.worker.start()
        self._started = True
        self.ready = True

    def close(self) -> None:
        """Take no new requests, finish the queued ones, close the models (idempotent)."""
        self.ready = False
        for served in self.models.values():
            if served.worker.close(timeout=self.options.timeout_s + 5):
                served.runner.close()
            else:  # never free a model under a running batch
                log.warning("model %r is still running a batch; left open", served.name)

    def queue_depths(self) -> dict[str, int]:
        """Model name -> requests waiting."""
        return {name: m.worker.depth for name, m in self.models.items()}

    def model(self, name: str | None) -> ServedModel:
        """The model called ``name`` (the default model for None).

        Raises:
            UnknownModelError: No model has that name.
        """
        if name is None or name == "":
            return self.models[self.default]
        if name not in self.models:
            hint = did_you_mean(name, self.models)
            raise UnknownModelError(f"no model {name!r} (served: {', '.join(self.models)}){hint}")
        return self.models[name]

    def label_for(self, name: str | None) -> str:
        """The model name a request's metrics are labelled with ("" for an unknown model)."""
        return self.default if not name else name if name in self.models else ""

    def is_ready(self) -> bool:
        """Started, not shutting down, every worker running."""
        return self.ready and all(m.worker.alive for m in self.models.values())

    def limits(self) -> dict[str, Any]:
        """The limits a client should know (``GET /v1/models``)."""
        o = self.options
        return {
            "max_body_mb": o.max_body_mb, "max_pixels": o.max_pixels, "timeout_s": o.timeout_s,
            "max_batch": o.max_batch, "batch_wait_ms": o.batch_wait_ms, "queue_size": o.queue_size,
            "style_side": o.style_side,
        }  # fmt: skip

    def describe(self) -> list[dict[str, Any]]:
        """Every served model, the default first."""
        return [m.describe(name == self.default) for name, m in self.models.items()]

    async def stylize(self, request: StylizeRequest) -> StylizeResult:
        """Stylize one request's image.

        Raises:
            UnknownModelError, NotAcceptableError, InputError, InputImageError: The request.
            QueueFullError, UnavailableError, RequestTimeoutError: The server's state.
        """
        deadline = time.monotonic() + self.options.timeout_s
        served = self.model(request.model)
        if not self.ready:
            raise UnavailableError("the server is not ready (starting or shutting down); retry later")
        fmt = negotiate(request.accept)
        served.worker.check_room()  # a full queue answers 503 before any decoding
        choice = await run_in_threadpool(self._choose, served, request)
        controls, strength = in_graph(_controls(request.options), served.runner.spec.inputs[1:])
        if strength:  # style-swap: the feature-space trade-off, part of the batch key
            choice = Choice({**choice.extra, **strength}, (choice.key, float(strength[STRENGTH][0])))
        image = await run_in_threadpool(decode_image, request.image, field="image",
                                        max_pixels=self.options.max_pixels)  # fmt: skip
        height, width = image.rgb.shape[:2]
        served.runner.spec.check_image_size(height, width)
        chw = np.ascontiguousarray(image.rgb.transpose(2, 0, 1))
        out = (await self._infer(served, chw, choice, deadline)).transpose(1, 2, 0)
        if controls.active:
            out = controls.apply(image.rgb, np.ascontiguousarray(out))
        body = await run_in_threadpool(encode_image, out, image.alpha, fmt)
        return StylizeResult(body, MEDIA_TYPES[fmt], served.name, width, height)

    def _choose(self, served: ServedModel, request: StylizeRequest) -> Choice:
        opts = request.options
        weights = opts.get("style_weights")
        style_image = None
        if request.style_image is not None:
            style_image = decode_style_image(request.style_image, short_side=self.options.style_side,
                                             max_pixels=self.options.max_pixels)  # fmt: skip
        options = Options(
            style=opts.get("style") or None,
            style_weights=tuple(float(w) for w in _weights(weights)) if weights else None,
            seed=_seed(opts.get("seed")), style_image=style_image,
            style_digest=digest(request.style_image) if request.style_image is not None else "",
        )  # fmt: skip
        return choose(served.runner.metadata, options)

    async def _infer(
        self, served: ServedModel, chw: np.ndarray, choice: Choice, deadline: float
    ) -> np.ndarray:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()

        def settle(result: np.ndarray | None, error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)  # type: ignore[arg-type]

        def done(result: np.ndarray | None, error: BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
                loop.call_soon_threadsafe(settle, result, error)

        key = (chw.shape, choice.key)
        job = Job(chw, key, choice.extra, deadline, done)
        served.worker.submit(job)
        try:
            return await asyncio.wait_for(future, max(deadline - time.monotonic(), 0.0))
        except asyncio.TimeoutError:
            job.cancelled = True
            raise RequestTimeoutError(
                f"no result within {self.options.timeout_s:g}s (model {served.name!r}, "
                f"{served.worker.depth} requests waiting); retry later or with a smaller image"
            ) from None


def _weights(text: str) -> np.ndarray:
    try:
        return parse_weights(text)
    except InputError:
        raise InputError(f"style_weights expects comma-separated numbers (0.3,0.7), got {text!r}") from None


def _controls(opts: Mapping[str, str]) -> Controls:
    """``strength`` (0..1) and ``preserve_color`` (true/false) of a request, checked."""
    text, keep = opts.get("strength"), (opts.get("preserve_color") or "false").strip().lower()
    try:
        strength = 1.0 if text in (None, "") else float(text)
    except ValueError:
        raise InputError(f"strength must be a number in [0, 1], got {text!r}") from None
    if keep not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise InputError(f"preserve_color must be true or false, got {keep!r}")
    return Controls(strength, keep in ("true", "1", "yes", "on"))


def _seed(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    try:
        seed = int(text)
    except ValueError:
        raise InputError(f"seed must be a non-negative integer, got {text!r}") from None
    if seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed}")
    return seed


def _warm_up(runner: Runner) -> None:
    """One inference at a small size, with whatever extra inputs the model needs."""
    need = needs(runner.metadata)
    options = Options(
        style_weights=(1.0 / need.num_styles,) * need.num_styles if need.style_choice else None,
        style_image=np.full((1, 3, 32, 32), 0.5, np.float32) if need.style_image else None,
    )  # fmt: skip
    size = max(WARMUP_SIZE, runner.spec.min_size)
    infer_batch(runner, np.full((1, 3, size, size), 0.5, np.float32), choose(runner.metadata, options).extra)
