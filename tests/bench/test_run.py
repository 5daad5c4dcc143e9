"""``nst bench``: target registry, availability checks, device loops, reports (CPU parts)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nst.bench.run import (
    BenchCase,
    best_throughput,
    gpu_summary,
    markdown_table,
    run_bench,
    write_results,
)
from nst.bench.targets import check_target_names, preflight, unavailable
from nst.errors import InputError, MissingDependencyError
from nst.runtime.onnxrt.gpu import OrtGpuOptions
from nst.runtime.onnxrt.runner import OrtRunner


@pytest.mark.parametrize(
    ("targets", "engine", "message"),
    [
        (["ort-cuda-f16"], None, r"unknown bench target 'ort-cuda-f16'; did you mean 'ort-cuda-fp16'\?"),
        (["trt"], None, r"target trt needs --engine MODEL\.plan"),
        (["ort-cpu"], Path("m.plan"), "--engine is only used by --target trt"),
        (["ort-cpu", "ort-cpu"], None, "target listed twice"),
    ],
)
def test_backend_options_are_checked(targets: list[str], engine: Path | None, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_target_names(targets, engine)


def test_preflight_names_every_backend_this_machine_lacks() -> None:
    import onnxruntime as ort
    import torch

    if "CUDAExecutionProvider" in ort.get_available_providers() or torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert unavailable("ort-cpu") is None and unavailable("torch-eager") is None
    with pytest.raises(MissingDependencyError) as info:
        preflight(["ort-cpu", "ort-cuda", "torch-cuda-fp16"])
    text = str(info.value)
    assert text.startswith("cannot run ort-cuda: this onnxruntime has no CUDAExecutionProvider")
    assert "torch-cuda-fp16: this torch build sees no CUDA device" in text and "ort-cpu" not in text


def test_ort_device_loop_runs_on_bound_buffers(tiny_onnx: Path) -> None:
    x = np.random.default_rng(0).random((1, 3, 33, 41), dtype=np.float32)
    with OrtRunner(tiny_onnx, providers="cpu", gpu=OrtGpuOptions(io_binding=True)) as runner:
        run = runner.device_loop({"image": x})
        run()
        bound = runner._binder.outputs["stylized"].numpy()  # type: ignore[union-attr]
    with OrtRunner(tiny_onnx, providers="cpu") as plain:
        np.testing.assert_allclose(bound, plain.infer({"image": x})["stylized"], atol=1e-6)
        with pytest.raises(InputError, match=r"device_loop needs .*io_binding=True"):
            plain.device_loop({"image": x})


def test_run_bench_cpu_backends_batches_and_report(tiny_onnx: Path, tmp_path: Path) -> None:
    cases = run_bench(tiny_onnx, ["32x48"], ["ort-cpu", "torch-eager"], batches=[1, 2], min_runs=2,
                      min_seconds=0.0, warmup=1)  # fmt: skip
    assert [(c.target, c.batch, c.precision) for c in cases] == [
        ("ort-cpu", 1, "fp32"), ("torch-eager", 1, "fp32"), ("ort-cpu", 2, "fp32"), ("torch-eager", 2, "fp32")
    ]  # fmt: skip
    for c in cases:
        assert c.runs >= 2 and 0 < c.p50_ms <= c.p95_ms and c.gpu_mem_mb is None
        assert c.images_per_s == pytest.approx(c.batch / (c.p50_ms / 1e3))
    json_path, md_path = write_results(cases, tiny_onnx, tmp_path, "t")
    record = json.loads(json_path.read_text())
    assert len(record["cases"]) == 4 and "gpu" not in record["machine"]
    md = md_path.read_text()
    assert (
        "Best throughput over the batch sizes tried:" in md and "torch eager p50 / ORT CPU p50: 32x48:" in md
    )
    with pytest.raises(InputError, match=r"batch sizes must be >= 1, got \[0\]"):
        run_bench(tiny_onnx, ["32x48"], ["ort-cpu"], batches=[0])


def _case(target: str, p50: float, batch: int = 1, size: str = "1080p") -> BenchCase:
    return BenchCase(target, "fp16", size, batch, p50, p50 * 1.1, batch / (p50 / 1e3), None, 10, 500.0)


def test_gpu_summary_compares_the_fastest_with_torch_fp16() -> None:
    cases = [
        _case("torch-cuda-fp16", 6.0),
        _case("trt", 1.5),
        _case("ort-cuda-fp16", 2.5),
        _case("trt", 1.0, 4),
    ]
    assert gpu_summary(cases) == [
        "1080p: fastest trt (fp16) 1.50 ms = 667 img/s, 4.00x faster than torch eager FP16"
    ]
    assert best_throughput(cases)[("trt", "1080p")].batch == 4
    machine = {"cpu": "x", "cores": 16, "system": "Linux", "gpu": "NVIDIA H100"}
    record = {"model": "m.onnx", "machine": machine, "nst_version": "0", "date": "d"}
    md = markdown_table(cases, record)
    assert (
        "GPU: NVIDIA H100" in md and "| trt | fp16 | 1080p | 4 | 1.0 | 1.1 | 4000.00 | n/a | 500 | 10 |" in md
    )


def test_bench_cli_refuses_to_overwrite(tiny_onnx: Path, tmp_path: Path) -> None:
    from nst.cli.main import app

    cli = CliRunner()
    args = ["bench", str(tiny_onnx), "--size", "32x32", "--target", "ort-cpu", "--min-runs", "1",
            "--min-seconds", "0", "--out-dir", str(tmp_path)]  # fmt: skip
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cpu.json").is_file() and (tmp_path / "cpu.md").is_file()
    result = cli.invoke(app, args)
    assert result.exit_code == 1 and "cpu.json already exists; use --force to overwrite" in result.output
    assert cli.invoke(app, [*args, "--force"]).exit_code == 0
    failing = ["bench", str(tiny_onnx), "--size", "32x32", "--size", "8x8", "--target", "ort-cpu",
               "--min-runs", "1", "--min-seconds", "0", "--out-dir", str(tmp_path / "p")]  # fmt: skip
    result = cli.invoke(app, failing)  # 32x32 is measured, then 8x8 is below the model's minimum
    assert result.exit_code == 1 and "too small" in result.output
    assert (
        "(1 case(s) measured before it: " in result.output and (tmp_path / "p" / "cpu.partial.md").is_file()
    )
    assert not (tmp_path / "p" / "cpu.md").exists()
    result = cli.invoke(app, ["bench", str(tiny_onnx), "--target", "trt", "--out-dir", str(tmp_path / "x")])
    assert result.exit_code == 1 and "target trt needs --engine" in result.output


def test_bench_feed_fills_every_input_of_a_multi_input_model(
    tmp_path_factory: pytest.TempPathFactory, vgg_weights: Path, content_dir: Path, style_image: Path
) -> None:
    from nst.bench.run import bench_feed
    from tests.conftest import tiny_train_config, train_and_export

    styles = (str(style_image), str(style_image))
    config = tiny_train_config(content_dir, style_image, vgg_weights, family="cin", styles=styles,
                               model={"base_channels": 4, "num_residual": 1}, steps=1)  # fmt: skip
    _, exported = train_and_export(tmp_path_factory, "cin", config)
    with OrtRunner(exported.path, providers="cpu") as runner:
        feed = bench_feed(runner, np.zeros((2, 3, 32, 40), np.float32))
        assert list(feed) == ["image", "style_weights"]
        np.testing.assert_array_equal(feed["style_weights"], [1.0, 0.0])
        assert runner.infer(feed)["stylized"].shape == (2, 3, 32, 40)
