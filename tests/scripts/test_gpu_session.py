"""``scripts/gpu_session.py --dry-run``: every stage of the GPU session on CPU, tiny, end to end.

The dry run takes the code path of the GPU session (the same CLI calls, time boxes, parsers
and summary) with CPU targets, tiny sizes and a few steps, so the script cannot break
unnoticed before a GPU is lent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_dry_run_passes_every_stage(tmp_path: Path, content_dir: Path, vgg_weights: Path) -> None:
    heldout = tmp_path / "heldout"
    heldout.mkdir()
    shutil.copy(next(iter(sorted(content_dir.iterdir()))), heldout / "photo.png")
    out = tmp_path / "out"
    args = [sys.executable, str(ROOT / "scripts" / "gpu_session.py"), "--dry-run", "--shim",
            "--out", str(out), "--vgg-weights", str(vgg_weights), "--content", str(content_dir),
            "--heldout", str(heldout)]  # fmt: skip
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    record = json.loads((out / "summary.json").read_text())
    stages = {s["name"]: s for s in record["stages"]}
    problems = {n: (s["status"], s["error"], s["notes"]) for n, s in stages.items() if s["status"] != "ok"}
    assert done.returncode == 0 and not problems, (problems, done.stdout[-2000:], done.stderr[-2000:])
    assert list(stages) == ["env", "bench", "bench_train", "train", "eval", "parity"]
    env = json.loads((out / "env.json").read_text())
    assert env["nst_import"].startswith("shim (")  # the GPU machine's way: no install, symlinks
    assert env["vgg_weights"] == str(vgg_weights.resolve()) and "ort_cuda_ep" in env
    bench = stages["bench"]["figures"]
    assert bench["johnson_full_32x40_fp32_fps"] > 0  # the headline figure, parsed from nst bench's JSON
    assert "torch-cuda" in bench["skipped_targets"]  # a GPU target without a GPU: skipped with the reason
    assert {"bundled ort-cpu 32x40", "johnson_full torch-eager 32x40"} <= set(bench["best_img_s"])
    loops = stages["bench_train"]["figures"]["gpu"]
    assert {"plain", "cached-gram", "+load-in-process", "+load-1-workers"} <= set(loops)
    trained = stages["train"]["figures"]["models"]["default"]
    assert trained["steps"] >= 2 and Path(trained["onnx"]).is_file()  # probe, then the resume run
    evals = stages["eval"]["figures"]
    assert evals["default-gpu"]["model_loss"] > 0 and evals["default-shipped"]["model_loss"] > 0
    assert min(stages["parity"]["figures"]["torch-cpu"].values()) >= 40  # torch vs ORT CPU, PSNR dB
    summary = (out / "summary.md").read_text()
    assert "| bench | ok |" in summary and "johnson_full_32x40_fp32_fps" in summary


def test_vgg_weights_from_the_device_copy_or_beside_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gpu_session
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    repo = tmp_path / "work" / "main"
    inside, beside = (
        repo / "shared" / gpu_session.VGG_NAME,
        tmp_path / "work" / "shared" / gpu_session.VGG_NAME,
    )
    for path in (inside, beside):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"weights")
    monkeypatch.setattr(gpu_session, "ROOT", repo)
    monkeypatch.delenv("NST_VGG_WEIGHTS", raising=False)
    assert gpu_session.vgg_weights(None) == inside  # the device copy: shared/ in the repo root
    inside.unlink()
    assert gpu_session.vgg_weights(None) == beside  # this checkout: ../shared
    monkeypatch.setenv("NST_VGG_WEIGHTS", str(tmp_path / "missing.pth"))
    assert gpu_session.vgg_weights(None) == beside  # a wrong variable does not hide a real file
    beside.unlink()
    assert gpu_session.vgg_weights(None) is None


def test_the_gpu_plan_fits_one_device_call() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gpu_session
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    plan = gpu_session.GPU_PLAN
    assert sum(plan.budgets.values()) <= plan.deadline_s <= 9 * 60  # the bound, per call
    assert plan.headline == ("1080p", "fp16") and {"256", "4k"} <= set(plan.sizes)
    assert set(plan.budgets) == {"env", "bench", "bench_train", "train", "eval", "parity"}
