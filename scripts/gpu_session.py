"""Every pending GPU measurement in one call of at most 9 minutes; everything lands under ``--out``.

On the lent GPU machine (no network, no nst venv), from the repository root::

    python3 scripts/gpu_session.py --out "$OUT"          # device tool: carry ["data"]
    python scripts/gpu_session.py --dry-run --out out/gpu-dry   # here or in CI: CPU, tiny, same path

Stages, each with its own time budget under one global deadline; a stage that fails or runs
out of time is recorded and the next one starts:

1. ``env``: GPU, driver, torch, CUDA, cuDNN, onnxruntime providers (CUDA EP or not), TensorRT;
2. ``bench``: ``nst bench`` on every GPU target this nst has and the machine can run (the rest
   are listed with the reason), on the bundled net and the full Johnson 32/5 net, 256 px to 4K,
   batch 1 and 8; the full net's 1080p FP16 frames per second is the headline;
3. ``bench_train``: ``nst bench-train`` (AMP, channels-last, loader workers, then compile);
4. ``train``: the shipped models' embedded recipes (``nst info``), retrained at 256 px crops
   with AMP for as many steps as fit the budget (a probe run measures the step rate, a resume
   run fills the rest), exported and scored with ``nst eval`` next to the shipped model;
5. ``parity``: ORT CPU FP32 vs the GPU path (torch CUDA FP32/FP16 on the trained checkpoint,
   ORT CUDA where present): PSNR per size (``scripts/gpu_parity.py``).

Without an installed nst (or with ``--shim``) the script lays the package out by pyproject's
``package-dir`` in a temporary folder of symlinks and puts it on PYTHONPATH, with
PYTHONSAFEPATH=1 so the repo root's bare ``nst/`` folder does not shadow it (no pip, no network). VGG weights:
``--vgg-weights``, else ``$NST_VGG_WEIGHTS``, else ``shared/weights`` or ``../shared/weights``.
Output: ``summary.md``, ``summary.json``, ``env.json``, ``logs/``, ``bench/``, ``train/``,
``eval/``, ``models/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tomllib
from gpu_session_train import tail  # scripts/ is sys.path[0] when run as a script

ROOT = Path(__file__).resolve().parents[1]
VGG_NAME = "weights/vgg16_imagenet_features.pth"
NST = ["-c", "import sys; from nst.cli.main import app; sys.argv[0] = 'nst'; app()"]
GPU_WANTED = ("torch-cuda", "torch-cuda-fp16", "torch-cuda-channels-last-fp16", "torch-cuda-graph-fp16",
              "torch-compile-cuda-fp16", "ort-cuda", "ort-cuda-fp16", "ort-trt-fp16", "trt")  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """What one mode runs: the GPU session or its CPU dry run (same stages, tiny figures)."""

    device: str
    targets: tuple[str, ...]
    sizes: tuple[str, ...]
    batches: tuple[int, ...]
    min_seconds: float
    full_net: tuple[str, ...]
    headline: tuple[str, str]  # (size, precision) of the full net's headline figure
    bench_train: tuple[str, ...]
    bench_train_compile: tuple[str, ...]
    crop: int
    style_size: int
    max_steps: int
    eval_args: tuple[str, ...]
    parity: tuple[str, ...]
    budgets: dict[str, float]
    deadline_s: float
    model_override: dict[str, int] = field(default_factory=dict)  # recipe model keys replaced (dry run)


GPU_PLAN = Plan(
    device="cuda", targets=GPU_WANTED, sizes=("256", "512", "720p", "1080p", "4k"), batches=(1, 8),
    min_seconds=0.3, full_net=("base_channels=32", "num_residual=5"), headline=("1080p", "fp16"),
    bench_train=("--size", "256", "--batch", "4", "--style-size", "256", "--base-channels", "32",
                 "--num-residual", "5", "--steps", "10", "--warmup", "3", "--channels-last",
                 "--amp", "fp16", "--loader-workers", "4", "--pin-memory"),
    bench_train_compile=("--size", "256", "--batch", "4", "--style-size", "256", "--base-channels", "32",
                         "--num-residual", "5", "--steps", "10", "--warmup", "5", "--compile"),
    crop=256, style_size=256, max_steps=40_000, eval_args=("--size", "256", "--iters", "50,100"),
    parity=("--size", "720x1280", "--size", "1080x1920"),
    budgets={"env": 20, "bench": 150, "bench_train": 60, "train": 225, "eval": 60, "parity": 25},
    deadline_s=540,
)  # fmt: skip
DRY_PLAN = Plan(
    device="cpu", targets=("ort-cpu", "torch-eager", "torch-cuda"), sizes=("32x40",),
    batches=(1, 2), min_seconds=0.0, full_net=("base_channels=4", "num_residual=1"),
    headline=("32x40", "fp32"),
    bench_train=("--size", "32", "--batch", "1", "--style-size", "32", "--base-channels", "4",
                 "--num-residual", "1", "--steps", "1", "--warmup", "0", "--channels-last",
                 "--loader-workers", "1"),
    bench_train_compile=(), crop=32, style_size=32, max_steps=4,
    eval_args=("--size", "32", "--iters", "2", "--limit", "1"), parity=("--size", "32x40",),
    budgets={"env": 30, "bench": 120, "bench_train": 60, "train": 120, "eval": 90, "parity": 40},
    deadline_s=480, model_override={"base_channels": 4, "num_residual": 1},
)  # fmt: skip


@dataclass
class Stage:
    """One stage's record: ``ok``, ``partial`` (some parts failed), ``failed`` or ``skipped``."""

    name: str
    status: str = "ok"
    seconds: float = 0.0
    budget_s: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str = ""
    deadline: float = 0.0  # time.monotonic() at which the stage's budget ends

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def problem(self, note: str) -> None:
        self.notes.append(note)
        self.status = "partial"


class Session:
    """Runs commands with timeouts inside the global deadline, logs under ``out/logs``."""

    def __init__(self, out: Path, plan: Plan, args: argparse.Namespace) -> None:
        self.out, self.plan, self.args = out, plan, args
        self.start = time.monotonic()
        self.stages: list[Stage] = []
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.artifacts: dict[str, Any] = {}

    def left(self) -> float:
        return self.plan.deadline_s - (time.monotonic() - self.start)

    def run(self, name: str, argv: list[str], timeout: float) -> tuple[int, str]:
        """Run ``python argv`` (rc 124 on timeout); stdout+stderr go to ``logs/<name>.log``."""
        timeout = max(1.0, min(timeout, self.left()))
        log = self.out / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, *argv]
        with log.open("w") as f:
            f.write("$ " + " ".join(cmd) + "\n")
            f.flush()
            proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=f, stderr=subprocess.STDOUT,
                                    start_new_session=True)  # fmt: skip
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the command's own process group only
                proc.wait()
                rc = 124
        text = log.read_text(errors="replace")
        return rc, text

    def nst(self, name: str, args: list[str], timeout: float) -> tuple[int, str]:
        return self.run(name, [*NST, *args], timeout)

    def stage(self, name: str, fn: Callable[[Stage], None]) -> Stage:
        stage = Stage(name, budget_s=min(self.plan.budgets[name], max(0.0, self.left())))
        t0 = time.monotonic()
        stage.deadline = t0 + stage.budget_s
        if stage.budget_s < 5:
            stage.status, stage.error = "skipped", "global deadline reached"
        else:
            try:
                fn(stage)
            except Exception as exc:  # a stage failure is recorded, the session goes on
                stage.status, stage.error = "failed", f"{type(exc).__name__}: {exc}"[:500]
        stage.seconds = round(time.monotonic() - t0, 1)
        self.stages.append(stage)
        print(f"[{time.monotonic() - self.start:5.0f}s] {name}: {stage.status} {stage.error}", flush=True)
        return stage


def vgg_weights(given: Path | None) -> Path | None:
    """The VGG weights: given, $NST_VGG_WEIGHTS, shared/weights (device copy) or ../shared/weights."""
    env = os.environ.get("NST_VGG_WEIGHTS")
    for path in (
        given,
        Path(env) if env else None,
        ROOT / "shared" / VGG_NAME,
        ROOT.parent / "shared" / VGG_NAME,
    ):
        if path is not None and path.is_file():
            return path.resolve()
    return None


def nst_location(env: dict[str, str]) -> str | None:
    """Where ``python -c`` in the repo root imports nst.runtime from, or None if it cannot."""
    check = "import nst.train, nst.cli.main, nst.bench.targets, nst.runtime; print(nst.runtime.__file__)"
    done = subprocess.run([sys.executable, "-c", check], env=env, cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def package_shim(dest: Path) -> Path:
    """``dest/nst``: symlinks laying the repo out as an installed wheel (pyproject's package-dir)."""
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    pkg = dest / "nst"
    pkg.mkdir(parents=True)
    for entry in (ROOT / mapping["nst"]).iterdir():
        (pkg / entry.name).symlink_to(entry)
    for name, folder in mapping.items():
        if name != "nst":
            (pkg / name.split(".", 1)[1]).symlink_to(ROOT / folder)
    return dest


def setup(session: Session, stage: Stage) -> None:
    """Make ``nst`` importable in subprocesses and point them at the VGG weights."""
    env = session.env
    installed = None if session.args.shim else nst_location(env)
    if installed:
        stage.figures["nst_import"] = f"installed ({installed})"
    else:
        shim = package_shim(Path(tempfile.mkdtemp(prefix="nst-shim-")))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shim), env.get("PYTHONPATH")]))
        env["PYTHONSAFEPATH"] = "1"  # else `python -c` in the repo root finds the bare nst/ folder first
        where = nst_location(env)
        if where is None or not where.startswith(str(shim)):
            raise RuntimeError(f"nst does not import through the package-dir shim {shim} (got {where})")
        stage.figures["nst_import"] = f"shim ({where})"
    weights = vgg_weights(session.args.vgg_weights)
    stage.figures["vgg_weights"] = str(weights)
    if weights is None:
        stage.problem("no VGG weights found: bench-train, train and eval will fail")
    else:
        env["NST_VGG_WEIGHTS"] = str(weights)


def environment(session: Session, stage: Stage) -> None:
    """GPU, driver, torch/CUDA/cuDNN, onnxruntime providers, TensorRT; also written to env.json."""
    setup(session, stage)
    info: dict[str, Any] = {"python": sys.version.split()[0], "executable": sys.executable}
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,compute_cap",
                          "--format=csv,noheader"], capture_output=True, text=True, check=False,
                         ) if shutil.which("nvidia-smi") else None  # fmt: skip
    info["nvidia_smi"] = smi.stdout.strip() if smi and smi.returncode == 0 else "absent"
    probe = ("import json, torch, onnxruntime as ort, importlib.util as u; c = torch.cuda.is_available();"
             "print(json.dumps({'torch': torch.__version__, 'cuda': torch.version.cuda,"
             "'cudnn': torch.backends.cudnn.version(), 'cuda_available': c,"
             "'gpu': torch.cuda.get_device_name(0) if c else None,"
             "'capability': '.'.join(map(str, torch.cuda.get_device_capability(0))) if c else None,"
             "'bf16': torch.cuda.is_bf16_supported() if c else None, 'onnxruntime': ort.__version__,"
             "'ort_providers': ort.get_available_providers(),"
             "'ort_cuda_ep': 'CUDAExecutionProvider' in ort.get_available_providers(),"
             "**{m.replace('cuda', 'cuda_python') if m == 'cuda' else m: u.find_spec(m) is not None"
             " for m in ('tensorrt', 'tensorrt_rtx', 'triton', 'onnxscript', 'cuda', 'pycuda')}}))"
             )  # fmt: skip
    rc, text = session.run("env", ["-c", probe], stage.budget_s)
    if rc != 0:
        raise RuntimeError(f"environment probe failed: {tail(text)}")
    info.update(json.loads(text.strip().splitlines()[-1]))
    stage.figures.update(info)
    (session.out / "env.json").write_text(json.dumps(stage.figures, indent=2) + "\n")
    if session.plan.device == "cuda" and not info["cuda_available"]:
        raise RuntimeError("torch sees no CUDA device")


def bench_targets(session: Session, stage: Stage) -> list[str]:
    """The wanted targets this nst has and this machine can run; the rest noted with the reason."""
    code = ("import json, sys; from nst.bench.targets import FACTORIES, unavailable;"
            "print(json.dumps({t: ('no such target in this nst' if t not in FACTORIES else unavailable(t))"
            " for t in sys.argv[1:]}))")  # fmt: skip
    rc, text = session.run("bench-targets", ["-c", code, *session.plan.targets], 60)
    if rc != 0:
        raise RuntimeError(f"cannot list bench targets: {tail(text)}")
    why = json.loads(text.strip().splitlines()[-1])
    why.update({t: "needs a TensorRT engine (--engine); this session builds none" for t in why
                if t == "trt" and why[t] is None})  # fmt: skip
    stage.figures["skipped_targets"] = {t: r for t, r in why.items() if r}
    return [t for t, r in why.items() if r is None]


def bench(session: Session, stage: Stage) -> None:
    """``nst bench`` per net: all runnable targets in one call, torch.compile apart (1 size)."""
    plan, models = session.plan, session.out / "models"
    models.mkdir(parents=True, exist_ok=True)
    full = models / "johnson_full.onnx"
    margs = [a for kv in plan.full_net for a in ("-m", kv)]
    rc, text = session.run("export-full", [str(ROOT / "scripts/export_untrained.py"), "johnson", *margs,
                                           "-o", str(full), "--force"], 120)  # fmt: skip
    nets = {"johnson_full": full, "bundled": ROOT / "nst/assets/default_model.onnx"}
    if rc != 0:
        stage.problem(f"full Johnson export failed: {tail(text)}")
        del nets["johnson_full"]
    targets = bench_targets(session, stage)
    if not targets:
        raise RuntimeError(f"no bench target can run here: {stage.figures['skipped_targets']}")
    compiled = [t for t in targets if "compile" in t]
    groups = [(f"{n}", [t for t in targets if t not in compiled], plan.sizes) for n in nets]
    groups += [(f"{n}-compile", compiled, (plan.headline[0],)) for n in nets if compiled]
    for tag, group, sizes in groups:
        net = nets[tag.split("-")[0]]
        args = ["bench", str(net), *(a for s in sizes for a in ("--size", s)),
                *(a for t in group for a in ("--target", t)),
                *(a for b in plan.batches for a in ("--batch", str(b))), "--min-runs", "3",
                "--min-seconds", str(plan.min_seconds), "--out-dir", str(session.out / "bench"),
                "--tag", tag, "--force"]  # fmt: skip
        rc, text = session.nst(f"bench-{tag}", args, stage.left())
        if rc != 0:
            stage.problem(f"bench {tag}: rc {rc}: {tail(text)}")
    stage.figures.update(bench_figures(session.out / "bench", plan.headline))


def bench_figures(folder: Path, headline: tuple[str, str]) -> dict[str, Any]:
    """Best img/s per (net, target, size) and the full net's headline (size, precision) FPS."""
    best: dict[str, float] = {}
    head: tuple[float, str] | None = None
    for path in sorted(folder.glob("*.json")):
        net = path.stem.split("-")[0]
        for c in json.loads(path.read_text())["cases"]:
            key = f"{net} {c['target']} {c['size']}"
            best[key] = max(best.get(key, 0.0), round(c["images_per_s"], 2))
            wanted = net == "johnson_full" and (c["size"], c["precision"]) == headline
            if wanted and (head is None or c["images_per_s"] > head[0]):
                head = (round(c["images_per_s"], 1), f"{c['target']} batch {c['batch']}")
    label = f"johnson_full_{headline[0]}_{headline[1]}_fps"
    return {label: head[0] if head else None, f"{label}_by": head[1] if head else None, "best_img_s": best}


def bench_train(session: Session, stage: Stage) -> None:
    """``nst bench-train`` on the session's device; torch.compile in a second call (it may hang)."""
    plan = session.plan
    calls = [("gpu", plan.bench_train), ("gpu-compile", plan.bench_train_compile)]
    for tag, flags in [c for c in calls if c[1]]:
        args = ["bench-train", *flags, "--device", plan.device, "--out-dir", str(session.out / "bench-train"),
                "--tag", tag, "--force", "--json"]  # fmt: skip
        rc, text = session.nst(f"bench-train-{tag}", args, stage.left())
        if rc != 0:
            stage.problem(f"bench-train {tag}: rc {rc}: {tail(text)}")
            continue
        record = json.loads(text.strip().splitlines()[-1])
        stage.figures[tag] = {c["name"]: c["steps_per_s"] for c in record["cases"]}


def summary(session: Session) -> str:
    """summary.md: one row per stage, then each stage's figures and notes."""
    lines = ["# GPU session", "", f"Mode: {'dry run (CPU)' if session.args.dry_run else 'GPU'}; "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
             f"{time.monotonic() - session.start:.0f} s of {session.plan.deadline_s:.0f} s.", "",
             "| stage | status | seconds | budget s | note |", "|---|---|---:|---:|---|"]  # fmt: skip
    for s in session.stages:
        note = (s.error or "; ".join(s.notes)).replace("|", "/")[:300]
        lines.append(f"| {s.name} | {s.status} | {s.seconds:.0f} | {s.budget_s:.0f} | {note} |")
    for s in session.stages:
        if s.figures:
            lines += ["", f"## {s.name}", "", "```json", json.dumps(s.figures, indent=1)[:6000], "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(os.environ.get("OUT") or ROOT / "out" / "gpu-session")
    )
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes, a few steps: the same path")
    parser.add_argument("--vgg-weights", type=Path, help="default: $NST_VGG_WEIGHTS or shared/weights")
    parser.add_argument("--content", type=Path, help="training photos (default: the recipe's, data/content)")
    parser.add_argument("--heldout", type=Path, help="eval photos (default: data/heldout)")
    parser.add_argument("--shim", action="store_true", help="use the symlink layout even if nst is installed")
    parser.add_argument("--deadline", type=float, help="seconds for the whole session (default: the plan's)")
    args = parser.parse_args(argv)
    plan = DRY_PLAN if args.dry_run else GPU_PLAN
    if args.deadline is not None:
        plan = Plan(**{**asdict(plan), "deadline_s": args.deadline})
    args.out.mkdir(parents=True, exist_ok=True)
    session = Session(args.out.resolve(), plan, args)
    import gpu_session_train as stages  # scripts/ is sys.path[0] when run as a script

    env = session.stage("env", lambda s: environment(session, s))
    session.artifacts["env"] = env.figures
    if env.status != "failed" or "nst_import" in env.figures:
        session.stage("bench", lambda s: bench(session, s))
        session.stage("bench_train", lambda s: bench_train(session, s))
        session.stage("train", lambda s: stages.train(session, s))
        session.stage("eval", lambda s: stages.evaluate(session, s))
        session.stage("parity", lambda s: stages.parity(session, s))
    record = {"dry_run": args.dry_run, "seconds": round(time.monotonic() - session.start, 1),
              "plan": asdict(plan), "stages": [asdict(s) for s in session.stages]}  # fmt: skip
    (session.out / "summary.json").write_text(json.dumps(record, indent=2) + "\n")
    (session.out / "summary.md").write_text(summary(session))
    statuses = ", ".join(f"{s.name} {s.status}" for s in session.stages)
    print(f"gpu session: {statuses} -> {session.out / 'summary.md'}")
    return 0 if all(s.status == "ok" for s in session.stages) else 1


if __name__ == "__main__":
    sys.exit(main())
