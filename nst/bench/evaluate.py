"""How good is a model? Its perceptual loss and speed against Gatys et al.'s optimisation.

For each held-out photo (short side resized to ``size``) the exported model's output and
Gatys L-BFGS images after each of ``iters`` iterations are scored by the objective the model
was trained on (read from its ``nst.train_config`` metadata), and timed. The seed papers'
bar (Johnson et al. 2016, Table 1; Ulyanov et al. 2016, Sec. 4): the feed-forward output's
total loss within 1.5x of Gatys after 100 iterations, at >= 100x less time.

Writes ``report.json``, ``report.md`` and ``grid.png`` (content | model | Gatys-N ...) into
the output folder. Gatys results depend only on the photo, the style and the objective, so
they can be kept in a cache folder and reused for every model of the same style and config.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nst.artifacts import check_targets
from nst.config import config_from_dict
from nst.errors import InputError, ModelError
from nst.io import list_images, read_image, write_image
from nst.measure import machine_description, time_fn
from nst.train.config import TrainConfig
from nst.train.data import resize_short_side, to_tensor
from nst.train.gatys import GatysConfig, PerceptualLoss, gatys_stylize
from nst.train.vgg import load_vgg16

REPORT_FILES = ("report.json", "report.md", "grid.png")
TARGET_LOSS_RATIO = 1.5  # model total loss / Gatys-100 total loss
TARGET_SPEEDUP = 100.0  # Gatys-100 seconds / model seconds
REFERENCE_ITERS = 100


@dataclass(frozen=True)
class MethodScore:
    """Weighted losses of one method's output for one photo, and its time per image."""

    method: str  # "model" or "gatys-N"
    losses: dict[str, float]
    seconds: float
    cached: bool = False  # Gatys result reused from the cache (timed when it was computed)


@dataclass(frozen=True)
class ImageScore:
    """Every method's score on one photo."""

    name: str
    width: int
    height: int
    scores: list[MethodScore]


@dataclass(frozen=True)
class EvalReport:
    """Result of :func:`evaluate_model`; see :meth:`summary` for the means and the verdict."""

    model: str
    style: str
    content: str
    size: int | None
    limit: int | None
    iters: list[int]
    objective: dict[str, Any]
    objective_source: str
    images: list[ImageScore]
    machine: dict[str, Any]
    out_dir: Path

    @property
    def methods(self) -> list[str]:
        return ["model", *(f"gatys-{n}" for n in self.iters)]

    def mean(self, method: str, key: str = "total") -> float:
        """Mean over photos of ``method``'s loss ``key`` (or ``seconds``)."""
        values = [
            s.seconds if key == "seconds" else s.losses[key]
            for image in self.images for s in image.scores if s.method == method
        ]  # fmt: skip
        return float(np.mean(values))

    def summary(self) -> dict[str, Any]:
        """Means per method, and the seed papers' target against Gatys-100 when it was run."""
        means = {m: {k: self.mean(m, k) for k in ("content", "style", "tv", "total", "seconds")}
                 for m in self.methods}  # fmt: skip
        out: dict[str, Any] = {"means": means}
        reference = f"gatys-{REFERENCE_ITERS}"
        if reference in means:
            ratio = means["model"]["total"] / means[reference]["total"]
            speedup = means[reference]["seconds"] / means["model"]["seconds"]
            out["target"] = {
                "reference": reference, "loss_ratio": ratio, "speedup": speedup,
                "max_loss_ratio": TARGET_LOSS_RATIO, "min_speedup": TARGET_SPEEDUP,
                "met": bool(ratio <= TARGET_LOSS_RATIO and speedup >= TARGET_SPEEDUP),
            }  # fmt: skip
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["out_dir"] = str(self.out_dir)
        data["summary"] = self.summary()
        return data


def evaluate_model(
    model_path: str | Path, content_dir: str | Path, style_path: str | Path, out_dir: str | Path, *,
    size: int | None = 256, iters: Sequence[int] = (50, 100, 300), limit: int | None = None,
    vgg_weights: str | Path | None = None, providers: str = "cpu", device: str = "cpu",
    gatys_cache: str | Path | None = None, force: bool = False, progress: bool = True,
) -> EvalReport:  # fmt: skip
    """Score ``model_path`` and Gatys on the photos of ``content_dir`` and write the report.

    Args:
        model_path: Exported ``.onnx`` model (run through :class:`nst.runtime.stylizer.Stylizer`).
        content_dir: Held-out photos (never seen in training).
        style_path: The style image the model was trained on.
        out_dir: Folder receiving ``report.json``, ``report.md`` and ``grid.png``.
        size: Short side the photos are resized to; None keeps them as they are.
        iters: Gatys iteration counts to score (one run to the largest, snapshots between).
        limit: Use only the first ``limit`` photos (sorted by name).
        vgg_weights: VGG-16 weights file for the loss network.
        providers: ONNX Runtime providers for the model.
        device: Torch device for the losses and Gatys.
        gatys_cache: Folder where Gatys results are kept and reused.
        force: Overwrite an existing report.
        progress: Show Gatys progress bars.

    Returns:
        The report (already written to ``out_dir``).

    Raises:
        InputError: Bad size, iterations or limit.
        OutputExistsError: A report file exists and ``force`` is false (checked before work).
        ModelError, InputImageError, WeightsError: Unusable model, photos or VGG weights.
    """
    from nst.runtime.stylizer import Stylizer

    iters = _check_iters(iters)
    if size is not None and size < 32:
        raise InputError(f"size must be >= 32, got {size}")
    if limit is not None and limit < 1:
        raise InputError(f"limit must be >= 1, got {limit}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"output {out} is a file; give a folder for the report")
    check_targets([out / name for name in REPORT_FILES], force=force)
    with Stylizer(model_path, providers=providers, batch_size=1) as stylizer:
        if len(stylizer.runner.spec.inputs) > 1:
            names = [t.name for t in stylizer.runner.spec.inputs]
            raise ModelError(f"nst eval scores single-style models (one input), this one takes {names}")
        photos = list_images([content_dir])[:limit]
        style_rgb = read_image(style_path).rgb
        config, source = _objective(stylizer.runner.metadata.extra, iters[-1], device, vgg_weights)
        layers = tuple(dict.fromkeys((config.content_layer, *config.style_layers)))
        loss = PerceptualLoss(config, style_rgb, load_vgg16(layers, config.vgg_weights))
        scored, grid_rows = [], []
        for photo in photos:
            rgb = read_image(photo).rgb
            rgb = resize_short_side(rgb, size) if size is not None else rgb
            model_out, model_score = _score_model(stylizer, rgb, loss)
            key = _cache_key(rgb, style_path, config)
            gatys_images, gatys_scores = _score_gatys(rgb, style_rgb, config, loss, iters, key,
                                                      gatys_cache, progress)  # fmt: skip
            scored.append(ImageScore(photo.name, rgb.shape[1], rgb.shape[0], [model_score, *gatys_scores]))
            grid_rows.append([rgb, model_out, *gatys_images])
    report = EvalReport(str(model_path), str(style_path), str(content_dir), size, limit, iters,
                        config.objective(), source, scored, _machine(), out)  # fmt: skip
    _write(report, grid_rows)
    return report


def _check_iters(iters: Sequence[int]) -> list[int]:
    values = sorted(set(iters))
    if not values or values[0] < 1:
        raise InputError(f"Gatys iterations must be positive integers, got {list(iters)}")
    return values


def _objective(
    extra: dict[str, str], iterations: int, device: str, vgg_weights: str | Path | None
) -> tuple[GatysConfig, str]:
    """The model's training objective from its metadata, or TrainConfig's defaults if absent."""
    run = {"iterations": iterations, "device": device,
           "vgg_weights": None if vgg_weights is None else str(vgg_weights)}  # fmt: skip
    if "nst.train_config" not in extra:
        return GatysConfig(**run), "TrainConfig defaults (model has no nst.train_config)"
    try:
        train = config_from_dict(TrainConfig, json.loads(extra["nst.train_config"]))
    except (ValueError, TypeError) as exc:
        raise ModelError(f"model has a malformed nst.train_config: {exc}") from exc
    return GatysConfig.from_train_config(train, **run), "model metadata nst.train_config"


def _score_model(stylizer: Any, rgb: np.ndarray, loss: PerceptualLoss) -> tuple[np.ndarray, MethodScore]:
    """Run the model once to warm up, then time three runs (median); score its output."""
    batch = rgb.transpose(2, 0, 1)[None].astype(np.float32)  # (1, 3, H, W)
    outputs = []
    times = time_fn(lambda: outputs.append(stylizer.stylize_batch(batch)), warmup=1, min_runs=3)
    out = outputs[-1]
    output = torch.from_numpy(np.clip(out, 0.0, 1.0)).to(loss.device)  # (1, 3, H, W)
    losses = _losses(loss, output, rgb)
    return np.ascontiguousarray(output[0].permute(1, 2, 0).cpu().numpy()), MethodScore(
        "model", losses, statistics.median(times)
    )


def _losses(loss: PerceptualLoss, output: torch.Tensor, rgb: np.ndarray) -> dict[str, float]:
    photo = to_tensor(rgb).unsqueeze(0).to(loss.device)  # (1, 3, H, W)
    with torch.no_grad():
        return {k: float(v) for k, v in loss(output, loss.content_target(photo)).items()}


def _cache_key(rgb: np.ndarray, style_path: str | Path, config: GatysConfig) -> str:
    """Everything a Gatys result depends on, hashed: pixels, style file, objective, run settings."""
    digest = hashlib.sha256(np.ascontiguousarray(rgb).tobytes())
    digest.update(str(rgb.shape).encode())
    digest.update(Path(style_path).read_bytes())
    settings = {**config.objective(), "init": config.init, "seed": config.seed,
                "history_size": config.history_size}  # fmt: skip
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def _score_gatys(
    rgb: np.ndarray, style: np.ndarray, config: GatysConfig, loss: PerceptualLoss, iters: list[int],
    key: str, cache: str | Path | None, progress: bool,
) -> tuple[list[np.ndarray], list[MethodScore]]:  # fmt: skip
    cached = _read_cache(cache, key, iters)
    if cached is not None:
        return cached
    result = gatys_stylize(rgb, style, config, snapshots=iters, vgg=loss.vgg, progress=progress)
    images = [result.snapshots[n].image for n in iters]
    scores = [MethodScore(f"gatys-{n}", result.snapshots[n].losses, result.snapshots[n].seconds)
              for n in iters]  # fmt: skip
    if cache is not None:
        folder = Path(cache)
        folder.mkdir(parents=True, exist_ok=True)
        for n, image in zip(iters, images, strict=True):
            np.save(folder / f"{key}_{n}.npy", image)
        entries = {s.method: {"losses": s.losses, "seconds": s.seconds} for s in scores}
        (folder / f"{key}.json").write_text(json.dumps(entries, indent=2))
    return images, scores


def _read_cache(
    cache: str | Path | None, key: str, iters: list[int]
) -> tuple[list[np.ndarray], list[MethodScore]] | None:
    """Cached Gatys results for ``key`` if every requested iteration count is there."""
    if cache is None or not (Path(cache) / f"{key}.json").is_file():
        return None
    folder = Path(cache)
    entries = json.loads((folder / f"{key}.json").read_text())
    if any(f"gatys-{n}" not in entries or not (folder / f"{key}_{n}.npy").is_file() for n in iters):
        return None
    images = [np.load(folder / f"{key}_{n}.npy") for n in iters]
    scores = [MethodScore(m, entries[m]["losses"], entries[m]["seconds"], cached=True)
              for m in (f"gatys-{n}" for n in iters)]  # fmt: skip
    return images, scores


def _machine() -> dict[str, Any]:
    import onnxruntime

    versions = {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__}
    return machine_description(versions=versions, threads=torch.get_num_threads())


def _write(report: EvalReport, grid_rows: list[list[np.ndarray]]) -> None:
    from nst.bench.eval_report import grid_image, markdown

    report.out_dir.mkdir(parents=True, exist_ok=True)
    (report.out_dir / "report.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    (report.out_dir / "report.md").write_text(markdown(report))
    write_image(report.out_dir / "grid.png", grid_image(grid_rows, ["content", *report.methods]), force=True)
