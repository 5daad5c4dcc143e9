"""External ONNX baselines for ``nst bench --model PATH``: any ONNX file, nst's or not, timed
in the same run as the main model, on the ONNX Runtime targets.

A baseline is opened as a plain ONNX Runtime session (no nst metadata needed). Its feed is
built from the graph's declared inputs:

- the **image**: the first float input of rank 4; it gets the case's image batch, cut to the
  graph's batch size when that dimension is static (a ``[1, 3, h, w]`` graph runs batch 1, and
  the case records the batch that ran);
- any other input, with every named axis the image shares set to the image's size and every
  other free axis set to 1: a float vector (e.g. ``style_weights [26]``) is one-hot on its
  first entry (style 0, as nst's own multi-style models are benched); a float scalar is 1.0;
  integer and bool inputs are zeros (index 0, false); other float tensors are seeded uniform
  [0, 1) values (e.g. a style image).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nst.errors import InputError, MissingDependencyError, ModelError

#: Targets a baseline runs on, with the ONNX Runtime providers each needs.
BASELINE_TARGETS = ("ort-cpu", "ort-cuda", "ort-trt-fp16")
_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
           "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_}  # fmt: skip


@dataclass(frozen=True)
class GraphInput:
    """One declared graph input: name, dims (int, axis name or None) and numpy dtype."""

    name: str
    shape: tuple[int | str | None, ...]
    dtype: Any


@dataclass(frozen=True)
class Baseline:
    """An ONNX file to time next to the main model."""

    path: Path
    name: str
    inputs: tuple[GraphInput, ...]
    image_index: int

    @property
    def image(self) -> GraphInput:
        return self.inputs[self.image_index]

    @property
    def static_batch(self) -> int | None:
        first = self.image.shape[0]
        return first if isinstance(first, int) and first > 0 else None


def read_baseline(path: Path, name: str | None = None) -> Baseline:
    """Read ``path``'s graph inputs and find its image input.

    Raises:
        ModelError: Missing or unreadable file, an input type nst cannot fill, or no float
            rank-4 input to take the image.
    """
    from nst.runtime.onnxrt.runner import session_from_onnx

    session = session_from_onnx(path, ["CPUExecutionProvider"])
    inputs = []
    for arg in session.get_inputs():
        if arg.type not in _DTYPES:
            raise ModelError(
                f"{path.name}: input {arg.name!r} has type {arg.type}, which nst bench cannot feed"
            )
        shape = tuple(d if isinstance(d, int | str) else None for d in arg.shape)
        inputs.append(GraphInput(arg.name, shape, _DTYPES[arg.type]))
    images = [i for i, t in enumerate(inputs) if len(t.shape) == 4 and np.issubdtype(t.dtype, np.floating)]
    if not images:
        raise ModelError(f"{path.name} has no float [N, C, H, W] input to take the image")
    return Baseline(path, name or path.name, tuple(inputs), images[0])


def read_baselines(paths: Sequence[Path]) -> list[Baseline]:
    """:func:`read_baseline` for every path; names are the file names, made unique by their folder."""
    names = [p.name for p in paths]
    return [
        read_baseline(p, p.name if names.count(p.name) == 1 else f"{p.parent.name}/{p.name}") for p in paths
    ]


def baseline_feed(baseline: Baseline, image: np.ndarray) -> tuple[dict[str, np.ndarray], int]:
    """The feed for one case and the batch it runs (the graph's, when its batch axis is static)."""
    n = baseline.static_batch or image.shape[0]
    if n != image.shape[0]:
        reps = -(-n // image.shape[0])
        image = np.concatenate([image] * reps)[:n]
    sizes = dict(zip(baseline.image.shape, image.shape, strict=True))
    rng = np.random.default_rng(1)
    feed: dict[str, np.ndarray] = {}
    for i, tensor in enumerate(baseline.inputs):
        if i == baseline.image_index:
            feed[tensor.name] = image.astype(tensor.dtype, copy=False)
            continue
        shape = tuple(d if isinstance(d, int) and d > 0 else sizes.get(d, 1) for d in tensor.shape)
        feed[tensor.name] = _filler(shape, tensor.dtype, rng)
    return feed, n


def _filler(shape: tuple[int, ...], dtype: Any, rng: np.random.Generator) -> np.ndarray:
    if not np.issubdtype(dtype, np.floating):
        return np.zeros(shape, dtype)
    if len(shape) == 0:
        return np.ones((), dtype)
    if len(shape) == 1:
        one_hot = np.zeros(shape, dtype)
        one_hot[0] = 1
        return one_hot
    return rng.random(shape, dtype=np.float32).astype(dtype)


def baseline_session(baseline: Baseline, target: str, device_id: int, cache_dir: Path) -> Any:
    """An ONNX Runtime session of ``baseline`` for ``target`` (one of :data:`BASELINE_TARGETS`).

    Raises:
        InputError: A target baselines do not run on.
        MissingDependencyError: ONNX Runtime started another provider than the target's.
    """
    from nst.runtime.onnxrt.runner import session_from_onnx

    cuda = ("CUDAExecutionProvider", {"device_id": str(device_id)})
    if target == "ort-cpu":
        providers: list[Any] = ["CPUExecutionProvider"]
    elif target == "ort-cuda":
        providers = [cuda]
    elif target == "ort-trt-fp16":
        trt = {"device_id": str(device_id), "trt_fp16_enable": "True", "trt_engine_cache_enable": "True",
               "trt_engine_cache_path": str(cache_dir)}  # fmt: skip
        providers = [("TensorrtExecutionProvider", trt), cuda]
    else:
        raise InputError(f"--model baselines run on {', '.join(BASELINE_TARGETS)}, not {target}")
    session = session_from_onnx(baseline.path, providers)
    wanted = providers[0] if isinstance(providers[0], str) else providers[0][0]
    if session.get_providers()[:1] != [wanted]:
        raise MissingDependencyError(f"ONNX Runtime could not start {wanted} for {baseline.name}")
    return session


def baseline_run(session: Any, feed: dict[str, np.ndarray], target: str, device_id: int) -> Any:
    """One timed inference: host arrays on CPU; on GPU targets inputs bound once on the device
    and outputs left there (as nst's own GPU targets are timed)."""
    if target == "ort-cpu":
        return lambda: session.run(None, feed)
    import onnxruntime as ort

    binding = session.io_binding()
    for name, array in feed.items():
        binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(array, "cuda", device_id))
    for out in session.get_outputs():
        binding.bind_output(out.name, "cuda", device_id)

    def run() -> None:
        session.run_with_iobinding(binding)
        binding.synchronize_outputs()

    return run
