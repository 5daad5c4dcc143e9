"""The training stages of ``scripts/gpu_session.py``: time-boxed retraining, eval, parity.

Kept apart so each file stays small; the functions take the session and its stage record.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gpu_session import Session, Stage

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = {"default": "nst/assets/default_model.onnx", "multistyle": "nst/assets/multistyle_model.onnx"}
TRAINED = re.compile(r"trained \S+ for (\d+) steps in ([\d.]+)s")
PSNR = re.compile(r"^(\d+x\d+): PSNR ([\d.inf]+) dB", re.M)
SAFETY = 0.85  # share of the measured step rate the resume run plans with
EXPORT_S = 30.0  # kept for the export (with its ONNX Runtime validation) after training


def tail(text: str, lines: int = 3) -> str:
    """The last ``lines`` lines of a command's output on one line (at most 400 characters)."""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])[:400]


def recipe(session: Session, model: Path) -> dict[str, Any]:
    """The TrainConfig embedded in a shipped model (``nst info --json``)."""
    rc, text = session.nst(f"info-{model.stem}", ["info", str(model), "--json"], 60)
    if rc != 0:
        raise RuntimeError(f"nst info {model.name}: {tail(text)}")
    start = text.index("{")
    config = json.loads(text[start:]).get("nst.train_config")
    if not config:
        raise RuntimeError(f"{model.name} carries no nst.train_config")
    return dict(config)


def trained_model(config: dict[str, Any], session: Session) -> dict[str, Any]:
    """The recipe's model config with the plan's overrides (the dry run's tiny net)."""
    return {k: session.plan.model_override.get(k, v) for k, v in config.get("model", {}).items()}


def style_file(path: Path, out: Path) -> Path:
    """The recipe's style image, or the bundled ``nst/assets/style_NAME.png`` of the same name.

    Multi-style recipes train on copies named ``NAME.png`` (a checkpoint names a style by its
    file stem) kept under ignored ``runs/``; a fresh clone or the GPU machine has only the
    bundled originals, so those are copied to ``NAME.png`` beside the run, keeping the names.
    """
    if path.is_file():
        return path
    bundled = ROOT / "nst" / "assets" / f"style_{path.stem}.png"
    if not bundled.is_file():
        return path  # reported as missing by the caller
    copy = out.parent / f"{out.name}-styles" / f"{path.stem}.png"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundled, copy)
    return copy


def train_args(config: dict[str, Any], session: Session, out: Path) -> list[str]:
    """``nst train`` arguments of a recipe at the session's crop, style size and device."""
    plan, args = session.plan, session.args
    content = args.content or ROOT / config["content_dir"]
    if not Path(content).is_dir():
        raise RuntimeError(f"no content folder {content} (carry data/, or give --content)")
    styles = [style_file(ROOT / s if not Path(s).is_absolute() else Path(s), out) for s in config["styles"]]
    missing = [str(s) for s in styles if not s.is_file()]
    if missing:
        raise RuntimeError(f"style image(s) of the recipe missing: {missing}")
    out_args = ["train", "--family", config["family"], "-c", str(content), "-o", str(out),
                "--batch-size", str(config["batch_size"]), "--image-size", str(plan.crop),
                "--style-size", str(min(int(config["style_size"]), plan.style_size)),
                "--lr", str(config["lr"]), "--content-weight", str(config["content_weight"]),
                "--style-weight", str(config["style_weight"]), "--tv-weight", str(config["tv_weight"]),
                "--seed", str(config["seed"]), "--device", plan.device, "--sample-every", "1000000",
                "--checkpoint-every", "50", "--no-progress"]  # fmt: skip
    out_args += [a for k, v in trained_model(config, session).items() for a in ("-m", f"{k}={v}")]
    return out_args + [a for s in styles for a in ("--style", str(s))]


def train_one(session: Session, stage: Stage, name: str, model: Path, budget: float) -> dict[str, Any]:
    """Probe run (step rate), then a resume run sized to fill ``budget``; export the result."""
    t_end = time.monotonic() + budget
    config = recipe(session, model)
    out = session.out / "train" / name
    base = train_args(config, session, out)
    probe = 2 if session.plan.device == "cpu" else 20
    t0 = time.monotonic()
    rc, text = session.nst(f"train-{name}-probe", [*base, "--steps", str(probe), "--force"], budget)
    match = TRAINED.search(text)
    if rc != 0 or not match:
        raise RuntimeError(f"train {name} probe: rc {rc}: {tail(text)}")
    per_step = float(match.group(2)) / int(match.group(1))
    overhead = time.monotonic() - t0 - float(match.group(2))
    room = t_end - time.monotonic() - overhead - EXPORT_S
    steps = min(session.plan.max_steps, probe + max(0, math.floor(SAFETY * room / per_step)))
    record: dict[str, Any] = {
        "recipe": {k: config[k] for k in ("family", "model", "steps", "image_size")},
        "trained_model": trained_model(config, session), "trained_crop": session.plan.crop,
        "probe_s_per_step": round(per_step, 4), "steps": probe,
    }  # fmt: skip
    if steps > probe:
        rc, text = session.nst(f"train-{name}", [*base, "--steps", str(steps), "--resume"],
                               t_end - time.monotonic() - EXPORT_S)  # fmt: skip
        match = TRAINED.search(text)
        if rc == 0 and match:
            record.update(steps=int(match.group(1)), train_s=float(match.group(2)))
        else:
            stage.problem(f"train {name}: rc {rc} (the last checkpoint is exported): {tail(text)}")
    onnx = session.out / "models" / f"{name}.gpu.onnx"
    export = ["export", str(out / "checkpoint.pt"), "-o", str(onnx), "--force"]
    rc, text = session.nst(f"export-{name}", export, max(EXPORT_S, t_end - time.monotonic()))
    if rc != 0:
        raise RuntimeError(f"export {name}: {tail(text)}")
    record.update(onnx=str(onnx), checkpoint=str(out / "checkpoint.pt"),
                  styles=[str(ROOT / s) for s in config["styles"]], shipped=str(model))  # fmt: skip
    return record


def train(session: Session, stage: Stage) -> None:
    """Retrain every shipped model present (the budget split evenly), one record per model."""
    present = {n: ROOT / p for n, p in SHIPPED.items() if (ROOT / p).is_file()}
    stage.figures["absent"] = [n for n in SHIPPED if n not in present]
    trained: dict[str, Any] = {}
    for i, (name, model) in enumerate(present.items()):
        budget = stage.left() / (len(present) - i)
        try:
            trained[name] = train_one(session, stage, name, model, budget)
        except RuntimeError as exc:
            stage.problem(str(exc))
    if not trained:
        raise RuntimeError("no model trained: " + "; ".join(stage.notes))
    stage.figures["models"] = trained
    session.artifacts["trained"] = trained


def evaluate(session: Session, stage: Stage) -> None:
    """``nst eval`` of each retrained single-style model and its shipped one (one Gatys cache)."""
    trained = session.artifacts.get("trained") or {}
    heldout = session.args.heldout or ROOT / "data" / "heldout"
    if not trained:
        raise RuntimeError("nothing trained to evaluate")
    for name, record in trained.items():
        pairs = [("gpu", record["onnx"]), ("shipped", record["shipped"])]
        if len(record["styles"]) != 1:  # nst eval scores one-input models: bake the first style
            style = Path(record["styles"][0]).stem
            baked = []
            for which, model in pairs:
                target = session.out / "eval" / f"{name}-{which}-{style}.onnx"
                argv = [str(ROOT / "scripts" / "bake_style.py"), model, "--style", style, "-o", str(target)]
                rc, text = session.run(f"bake-{name}-{which}", argv, stage.left())
                if rc != 0:
                    stage.problem(f"bake {name} {which}: rc {rc}: {tail(text)}")
                    continue
                baked.append((which, str(target)))
            pairs = baked
        first = Path(record["styles"][0])
        style_image = first if first.is_file() else ROOT / "nst" / "assets" / f"style_{first.stem}.png"
        for which, model in pairs:
            args = ["eval", model, "--content", str(heldout), "--style", str(style_image),
                    "-o", str(session.out / "eval" / f"{name}-{which}"), "--device", session.plan.device,
                    "--gatys-cache", str(session.out / "eval" / "gatys"), "--no-progress", "--json",
                    "--force", *session.plan.eval_args]  # fmt: skip
            rc, text = session.nst(f"eval-{name}-{which}", args, stage.left())
            if rc != 0:
                stage.problem(f"eval {name} {which}: rc {rc}: {tail(text)}")
                continue
            summary = json.loads(text.strip().splitlines()[-1])
            means = summary["means"]
            stage.figures[f"{name}-{which}"] = {
                "model_loss": round(means["model"]["total"], 4),
                "gatys": {m: round(v["total"], 4) for m, v in means.items() if m != "model"},
                "loss_ratio": round(summary["target"]["loss_ratio"], 3) if "target" in summary else None,
            }  # fmt: skip


def parity(session: Session, stage: Stage) -> None:
    """PSNR of the GPU path (torch FP32/FP16 on the checkpoint; ORT CUDA if present) vs ORT CPU."""
    trained = session.artifacts.get("trained") or {}
    record = trained.get("default") or next(iter(trained.values()), None)
    if record is None:
        raise RuntimeError("no trained checkpoint to compare (the train stage failed)")
    script, plan = str(ROOT / "scripts" / "gpu_parity.py"), session.plan
    modes = {f"torch-{plan.device}": ["--checkpoint", record["checkpoint"], "--torch", plan.device],
             f"torch-{plan.device}-fp16": ["--checkpoint", record["checkpoint"], "--torch", plan.device,
                                           "--fp16", "--min-psnr", "30"]}  # fmt: skip
    if plan.device == "cpu":
        del modes["torch-cpu-fp16"]  # half-precision convolutions are a GPU path
    if session.artifacts.get("env", {}).get("ort_cuda_ep"):
        modes["ort-cuda"] = ["--ort-cuda"]
    for mode, flags in modes.items():
        rc, text = session.run(f"parity-{mode}", [script, record["onnx"], *flags, *plan.parity], stage.left())
        found = {size: float(db) for size, db in PSNR.findall(text)}
        stage.figures[mode] = found
        if rc != 0 or not found:
            stage.problem(f"parity {mode}: rc {rc}: {tail(text)}")
