from dataclasses import replace
from pathlib import Path

import pytest

from nst.contract.profiles import Profile
from nst.errors import EngineCompatError, ModelError
from nst.runtime.trt.sidecar import (
    SIDECAR_FORMAT,
    Platform,
    Sidecar,
    check_compat,
    describe_engine,
    read_sidecar,
    sidecar_path,
)

PROFILE = Profile((1, 3, 16, 16), (1, 3, 720, 1280), (4, 3, 2160, 3840))
REBUILD = "nst build-engine model.onnx -o model.plan --trt rtx --compute-capability 86 --fp16 --force"
SIDECAR = Sidecar(
    library="tensorrt_rtx", library_version="1.7.1.116", compute_capabilities=("8.6", "12.0"),
    input_name="image", profiles=(PROFILE,), precision="fp16", source_precision="fp32",
    io_dtypes={"image": "float32", "stylized": "float32"}, onnx_sha256="ab" * 32, onnx_path="model.onnx",
    nst_version="0.1.0", build_command=REBUILD,
)  # fmt: skip
TRT = replace(SIDECAR, library="tensorrt", library_version="10.3.0.26", compute_capabilities=("9.0",),
              gpu_name="NVIDIA H100 80GB HBM3")  # fmt: skip
A6000 = Platform("tensorrt_rtx", "1.7.1.116", "NVIDIA RTX A6000", "8.6")
H100 = Platform("tensorrt", "10.3.0.26", "NVIDIA H100 80GB HBM3", "9.0")


def test_round_trip_and_path(tmp_path: Path) -> None:
    plan = tmp_path / "model.plan"
    assert sidecar_path(plan) == tmp_path / "model.plan.json"
    sidecar_path(plan).write_text(SIDECAR.to_json())
    assert read_sidecar(plan) == SIDECAR and SIDECAR.format == SIDECAR_FORMAT == 2
    assert SIDECAR.library_label == "TensorRT-RTX 1.7.1.116"


def test_matching_platforms_pass() -> None:
    check_compat(SIDECAR, A6000)
    check_compat(SIDECAR, replace(A6000, gpu_name="NVIDIA GeForce RTX 5090", compute_capability="12.0"))
    check_compat(SIDECAR, replace(A6000, profiles=(PROFILE,)))
    check_compat(TRT, H100)


@pytest.mark.parametrize(
    ("sidecar", "here", "message"),
    [
        (SIDECAR, replace(A6000, library="tensorrt", library_version="10.3.0.26"),
         r"built with TensorRT-RTX 1\.7\.1\.116, loading with TensorRT 10\.3\.0\.26"),
        (SIDECAR, replace(A6000, library_version="1.8.0.1"),
         r"TensorRT-RTX 1\.7\.1\.116 \(engine; RTX engines load only on the release that built them\) vs"),
        (SIDECAR, replace(A6000, compute_capability="8.9"),
         r"compute capability 8\.9 here, engine built for 8\.6, 12\.0"),
        (SIDECAR, replace(A6000, profiles=(replace(PROFILE, max=(8, 3, 2160, 3840)),)),
         r"profiles .*max 4x3x2160x3840.*\(sidecar\) vs .*max 8x3.*\(engine file\)"),
        (TRT, replace(H100, library_version="10.4.0.1"),
         r"TensorRT 10\.3\.0\.26 \(engine\) vs 10\.4\.0\.1 here"),
        (TRT, replace(H100, gpu_name="NVIDIA H200"), r"GPU 'NVIDIA H100 80GB HBM3' \(engine\) vs 'NVIDIA H2"),
    ],
)  # fmt: skip
def test_each_difference_raises_with_rebuild_command(sidecar: Sidecar, here: Platform, message: str) -> None:
    with pytest.raises(EngineCompatError, match=message) as info:
        check_compat(sidecar, here, "model.plan")
    assert str(info.value).startswith("model.plan does not match this machine: ")
    assert str(info.value).endswith(f"rebuild it with: {REBUILD}")


def test_every_difference_is_listed() -> None:
    with pytest.raises(EngineCompatError, match=r"TensorRT .*; compute capability .*; GPU "):
        check_compat(TRT, Platform("tensorrt", "10.0.1", "NVIDIA L4", "8.9"))


@pytest.mark.parametrize(
    ("built", "here", "ok"),
    [("10.3.0.26", "10.3.0.26", True), ("10.3.0.26", "10.8.0.43", True), ("10.3.0.26", "11.4.0.106", True),
     ("10.3.0.26", "10.2.0", False), ("11.1.0", "11.0.0", False), ("11.1.0", "10.9.0", False)],
)  # fmt: skip
def test_version_compatible_tensorrt_engines(built: str, here: str, ok: bool) -> None:
    sidecar = replace(TRT, version_compatible=True, library_version=built)
    if ok:
        check_compat(sidecar, replace(H100, library_version=here))
    else:
        with pytest.raises(EngineCompatError, match=rf"version-compatible: needs {built[:2]}\.x >= {built}"):
            check_compat(sidecar, replace(H100, library_version=here))


def test_rtx_engines_are_not_tied_to_one_gpu_model() -> None:
    check_compat(SIDECAR, replace(A6000, gpu_name="NVIDIA GeForce RTX 3090"))  # same CC, another card


def test_missing_or_bad_sidecar(tmp_path: Path) -> None:
    plan = tmp_path / "m.plan"
    with pytest.raises(ModelError, match=r"m\.plan\.json not found.*nst build-engine"):
        read_sidecar(plan)
    sidecar_path(plan).write_text("[1, 2]")
    with pytest.raises(ModelError, match="not a valid engine sidecar"):
        read_sidecar(plan)
    sidecar_path(plan).write_text(SIDECAR.to_json().replace('"precision"', '"precison"'))
    with pytest.raises(ModelError, match="did you mean 'precision'"):
        read_sidecar(plan)
    old = (
        '{"format": 1, "trt_version": "10.3.0", "build_command": "nst build-engine m.onnx -o m.plan --force"}'
    )
    sidecar_path(plan).write_text(old)
    with pytest.raises(
        ModelError,
        match=r"sidecar format 1; this nst reads 2: rebuild the engine with: "
        r"nst build-engine m\.onnx -o m\.plan --force$",
    ):
        read_sidecar(plan)  # fmt: skip


def test_describe_engine_reads_only_the_sidecar(tmp_path: Path) -> None:
    from tests.runtime.trt.tiny import conv_model

    model = conv_model(tmp_path / "m.onnx")
    from nst.runtime.trt.config import read_model

    plan = tmp_path / "m.plan"
    plan.write_bytes(b"not loaded")
    record = replace(SIDECAR, model_metadata=read_model(model).metadata.to_props())
    sidecar_path(plan).write_text(record.to_json())
    meta, engine = describe_engine(plan)
    assert meta.family == "johnson" and meta.spec.inputs[0].name == "image"
    assert engine == {
        "library": "tensorrt_rtx", "library_version": "1.7.1.116", "compute_capabilities": ["8.6", "12.0"],
        "gpu": None, "precision": "fp16", "source_precision": "fp32",
        "profiles": ["min 1x3x16x16, opt 1x3x720x1280, max 4x3x2160x3840"],
        "io_dtypes": {"image": "float32", "stylized": "float32"}, "version_compatible": False,
        "onnx": "model.onnx", "onnx_sha256": "ab" * 32, "built_by": REBUILD,
    }  # fmt: skip
    plan.unlink()
    with pytest.raises(ModelError, match="engine file not found"):
        describe_engine(plan)
