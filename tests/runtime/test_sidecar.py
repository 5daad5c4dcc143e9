from dataclasses import replace
from pathlib import Path

import pytest

from nst.contract.profiles import Profile
from nst.errors import EngineCompatError, ModelError, OutputError, OutputExistsError
from nst.runtime.trt.sidecar import (
    Platform,
    Sidecar,
    check_compat,
    check_output,
    read_sidecar,
    sidecar_path,
    write_atomic,
)

PROFILE = Profile((1, 3, 16, 16), (1, 3, 720, 1280), (4, 3, 2160, 3840))
SIDECAR = Sidecar(
    trt_version="10.3.0.26", gpu_name="NVIDIA H100 80GB HBM3", compute_capability="9.0", input_name="image",
    profiles=(PROFILE,), precisions=("fp32", "fp16"), onnx_sha256="ab" * 32, onnx_path="model.onnx",
    nst_version="0.1.0", build_command="nst build-engine model.onnx -o model.plan --fp16 --force",
)  # fmt: skip
HERE = Platform("10.3.0.26", "NVIDIA H100 80GB HBM3", "9.0")


def test_round_trip_and_path(tmp_path: Path) -> None:
    plan = tmp_path / "model.plan"
    assert sidecar_path(plan) == tmp_path / "model.plan.json"
    sidecar_path(plan).write_text(SIDECAR.to_json())
    assert read_sidecar(plan) == SIDECAR


def test_matching_platform_passes() -> None:
    check_compat(SIDECAR, HERE)
    check_compat(SIDECAR, replace(HERE, profiles=(PROFILE,), onnx_sha256="ab" * 32))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trt_version": "10.4.0.1"}, r"TensorRT 10\.3\.0\.26 \(engine\) vs 10\.4\.0\.1 here"),
        ({"gpu_name": "NVIDIA A100-SXM4-80GB"}, r"GPU 'NVIDIA H100 80GB HBM3' \(engine\) vs 'NVIDIA A100"),
        ({"compute_capability": "8.0"}, r"compute capability 9\.0 \(engine\) vs 8\.0 here"),
        ({"profiles": (replace(PROFILE, max=(8, 3, 2160, 3840)),)}, r"profiles .*max 4x3x2160x3840.*max 8x3"),
        ({"onnx_sha256": "cd" * 32}, r"source ONNX sha256 abababababab\.\.\. \(engine\) vs cdcdcdcdcdcd"),
    ],
)
def test_each_difference_raises_with_rebuild_command(change: dict, message: str) -> None:
    with pytest.raises(EngineCompatError, match=message) as info:
        check_compat(SIDECAR, replace(HERE, **change), "model.plan")
    assert str(info.value).startswith("model.plan does not match this machine: ")
    assert str(info.value).endswith(
        "rebuild it with: nst build-engine model.onnx -o model.plan --fp16 --force"
    )


def test_every_difference_is_listed() -> None:
    with pytest.raises(EngineCompatError, match=r"TensorRT .*; compute capability .*; GPU "):
        check_compat(SIDECAR, Platform("10.0.1", "NVIDIA L4", "8.9"))


@pytest.mark.parametrize(("here", "ok"), [("10.3.0.26", True), ("10.8.0.43", True), ("10.2.0", False),
                                          ("11.0.0", False)])  # fmt: skip
def test_version_compatible_engines_run_on_later_same_major(here: str, ok: bool) -> None:
    sidecar = replace(SIDECAR, version_compatible=True)
    if ok:
        check_compat(sidecar, replace(HERE, trt_version=here))
    else:
        with pytest.raises(EngineCompatError, match=r"version-compatible: needs 10\.x >= 10\.3\.0\.26"):
            check_compat(sidecar, replace(HERE, trt_version=here))


def test_missing_or_bad_sidecar(tmp_path: Path) -> None:
    plan = tmp_path / "m.plan"
    with pytest.raises(ModelError, match=r"m\.plan\.json not found.*nst build-engine"):
        read_sidecar(plan)
    sidecar_path(plan).write_text("[1, 2]")
    with pytest.raises(ModelError, match="not a valid engine sidecar"):
        read_sidecar(plan)
    sidecar_path(plan).write_text(SIDECAR.to_json().replace('"gpu_name"', '"gpu_nam"'))
    with pytest.raises(ModelError, match="did you mean 'gpu_name'"):
        read_sidecar(plan)
    sidecar_path(plan).write_text(SIDECAR.to_json().replace('"format": 1', '"format": 2'))
    with pytest.raises(ModelError, match="sidecar format 2"):
        read_sidecar(plan)


def test_outputs_are_not_clobbered(tmp_path: Path) -> None:
    plan = tmp_path / "m.plan"
    check_output(plan, force=False)
    sidecar_path(plan).write_text("{}")
    with pytest.raises(OutputExistsError, match=r"m\.plan\.json already exists; use --force"):
        check_output(plan, force=False)
    check_output(plan, force=True)
    write_atomic(plan, b"abc")
    assert plan.read_bytes() == b"abc"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="cannot write"):
        write_atomic(tmp_path / "file" / "sub.plan", b"abc")
