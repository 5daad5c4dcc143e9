import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst.artifacts import sha256_file
from nst.contract.profiles import Profile, input_shapes, parse_profiles, parse_shape, profiles_from_spec
from nst.contract.spec import ExportSpec, TensorSpec
from nst.errors import EngineBuildError, InputError, MissingDependencyError, ModelError, OutputExistsError
from nst.runtime.trt.build import (
    EngineConfig,
    build_command,
    build_engine,
    engine_from_onnx,
    read_model,
    resolve_profiles,
)
from nst.runtime.trt.sidecar import read_sidecar
from tests.runtime import fake_trt
from tests.runtime.onnx_models import tiny_model

DEFAULT = Profile((1, 3, 16, 16), (1, 3, 720, 1280), (4, 3, 2160, 3840))


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    return tiny_model(tmp_path / "model.onnx")


@pytest.fixture()
def qdq_model(tmp_path: Path) -> Path:
    return tiny_model(tmp_path / "model.int8.onnx", qdq=True)


@pytest.fixture()
def trt(monkeypatch: pytest.MonkeyPatch):
    mod = fake_trt.module()
    monkeypatch.setitem(sys.modules, "tensorrt", mod)
    return mod


def test_parse_shapes_and_profiles() -> None:
    assert parse_shape("1x3x64x64") == (1, 3, 64, 64)
    assert parse_profiles(["1x3x64x64"], ["1x3x720x1280"], ["4x3x2160x3840"]) == (
        Profile((1, 3, 64, 64), (1, 3, 720, 1280), (4, 3, 2160, 3840)),
    )
    assert (
        len(
            parse_profiles(
                ["1x3x16x16", "8x3x16x16"], ["1x3x64x64", "8x3x64x64"], ["4x3x256x256", "8x3x256x256"]
            )
        )
        == 2
    )
    assert parse_profiles([], [], []) == ()


@pytest.mark.parametrize(
    ("mins", "opts", "maxs", "message"),
    [
        (["1x3x64"], ["1x3x64x64"], ["1x3x64x64"], r"'1x3x64' must be NxCxHxW"),
        (["1x3x0x64"], ["1x3x64x64"], ["1x3x64x64"], "positive integers"),
        (["1x3xax64"], ["1x3x64x64"], ["1x3x64x64"], "NxCxHxW"),
        (["1x3x64x64"], [], ["1x3x64x64"], r"same number of times \(got 1, 0, 1\)"),
        (["1x3x64x64"], ["1x3x32x64"], ["1x3x64x64"], "H must satisfy min <= opt <= max"),
        (["1x3x64x64"], ["2x3x64x64"], ["1x3x64x64"], "N must satisfy min <= opt <= max"),
    ],
)
def test_bad_profiles(mins: list, opts: list, maxs: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_profiles(mins, opts, maxs)


def test_profile_derived_from_spec_and_checked_against_it(model: Path) -> None:
    info = read_model(model)
    assert not info.qdq and info.sha256 == sha256_file(model)
    assert profiles_from_spec(info.metadata.spec) == (DEFAULT,)
    assert resolve_profiles(EngineConfig(), info) == (DEFAULT,)
    small = Profile((1, 3, 8, 8), (1, 3, 64, 64), (1, 3, 64, 64))
    with pytest.raises(InputError, match="H and W must be >= 16 for a johnson model"):
        resolve_profiles(EngineConfig(profiles=(small,)), info)
    four = Profile((1, 4, 16, 16), (1, 4, 64, 64), (1, 4, 64, 64))
    with pytest.raises(InputError, match="image has a fixed axis of size 3"):
        resolve_profiles(EngineConfig(profiles=(four,)), info)


def test_input_shapes_follow_the_image_axes() -> None:
    spec = ExportSpec(family="cin", inputs=(
        TensorSpec("image", ("batch", 3, "height", "width")), TensorSpec("style_weights", (4,), range=None),
        TensorSpec("style_masks", ("batch", 4, "height", "width"))))  # fmt: skip
    shapes = input_shapes(spec, DEFAULT)
    assert shapes["style_weights"] == ((4,), (4,), (4,))
    assert shapes["style_masks"][2] == (4, 4, 2160, 3840)
    odd = ExportSpec(family="swap", inputs=(*spec.inputs, TensorSpec("style", (1, 3, "sh", "sw"))))
    with pytest.raises(InputError, match="cannot derive a profile for input 'style' axis 'sh'"):
        input_shapes(odd, DEFAULT)


def test_input_shapes_of_noise_and_style_image_inputs() -> None:
    from nst.train.models.styleswap import StyleSwapNet
    from nst.train.models.texture import TextureConfig, TextureStylizationNet

    spec = TextureStylizationNet(TextureConfig(scales=3)).export_spec()
    profile = Profile((1, 3, 33, 40), (2, 3, 721, 1280), (4, 3, 2161, 3840))
    shapes = input_shapes(ExportSpec.from_json(spec.to_json()), profile)  # survives the metadata round trip
    assert shapes["noise_0"] == ((1, 3, 33, 40), (2, 3, 721, 1280), (4, 3, 2161, 3840))
    assert shapes["noise_2"] == ((1, 3, 9, 10), (2, 3, 181, 320), (4, 3, 541, 960))  # ceil(size / 4)
    swap = input_shapes(StyleSwapNet().export_spec(), DEFAULT)
    assert swap["style"] == ((1, 3, 16, 16), (1, 3, 256, 256), (1, 3, 512, 512))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"calib_data": Path(".")}, "only apply with --int8"),
        ({"int8": True, "calib_data": Path("/no/such/dir")}, "is not a folder of images"),
        ({"exclude_lean_runtime": True}, "needs --version-compatible"),
        ({"workspace_mb": 0}, ">= 1 MiB"),
        ({"optimization_level": 6}, "must be 0-5"),
        ({"timing_cache": Path(".")}, "is a folder"),
        ({"int8": True, "calib_images": 0, "calib_cache": Path("c")}, "calib_images must be >= 1"),
        ({"profiles": (Profile((2, 3, 16, 16), (1, 3, 16, 16), (2, 3, 16, 16)),)}, "N must satisfy"),
    ],
)
def test_engine_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        EngineConfig(**kwargs)


def test_int8_modes(model: Path, qdq_model: Path, tmp_path: Path) -> None:
    plain, qdq = read_model(model), read_model(qdq_model)
    assert qdq.qdq
    with pytest.raises(InputError, match=r"--int8 needs a QDQ model .* or --calib-data DIR"):
        resolve_profiles(EngineConfig(int8=True), plain)
    with pytest.raises(InputError, match=r"is INT8-quantised .*build it with --int8"):
        resolve_profiles(EngineConfig(fp16=True), qdq)
    with pytest.raises(InputError, match="carries its own INT8 scales"):
        resolve_profiles(EngineConfig(int8=True, calib_data=tmp_path), qdq)
    assert resolve_profiles(EngineConfig(int8=True), qdq) == (DEFAULT,)
    assert resolve_profiles(EngineConfig(int8=True, calib_data=tmp_path), plain) == (DEFAULT,)


def test_read_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        read_model(tmp_path / "none.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage")
    with pytest.raises(ModelError, match=r"cannot read ONNX model .*bad\.onnx"):
        read_model(tmp_path / "bad.onnx")


def test_build_command_round_trips_options() -> None:
    assert build_command("m.onnx", "m.plan", EngineConfig(fp16=True, fp32_norms=False)).endswith(
        "--fp16 --no-fp32-norms --force")  # fmt: skip
    config = EngineConfig(fp16=True, timing_cache=Path("t c.cache"), version_compatible=True,
                          profiles=(DEFAULT,), workspace_mb=1024)  # fmt: skip
    assert build_command("m.onnx", "m.plan", config) == (
        "nst build-engine m.onnx -o m.plan --fp16 --version-compatible --timing-cache 't c.cache' "
        "--workspace-mb 1024 --min 1x3x16x16 --opt 1x3x720x1280 --max 4x3x2160x3840 --force"
    )


def test_engine_modules_do_not_import_tensorrt_or_cuda() -> None:
    modules = "nst.runtime.trt.build, nst.runtime.trt, nst.runtime.trt.calls, nst.runtime.trt.cuda, "
    modules += "nst.runtime.onnxrt.gpu, nst.cli.build_engine_cmd"
    code = (
        f"import sys, {modules}; print(sorted({{'tensorrt', 'pycuda', 'cuda', 'torch'}} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_missing_tensorrt_names_the_extra(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # makes `import tensorrt` fail
    with pytest.raises(MissingDependencyError, match=r"pip install 'nst\[trt\]'"):
        engine_from_onnx(model, EngineConfig(fp16=True))


def test_other_tensorrt_major_is_refused(trt, model: Path) -> None:
    trt.__version__ = "11.4.0.106"
    with pytest.raises(MissingDependencyError, match=r"needs TensorRT 10\.x, found 11\.4\.0\.106.*<11"):
        engine_from_onnx(model, EngineConfig())


def test_fp16_build_call_sequence(trt, model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "timing.cache"
    phases: list[str] = []
    with caplog.at_level(logging.INFO, logger="nst.trt"):
        data = engine_from_onnx(model, EngineConfig(fp16=True, timing_cache=cache, workspace_mb=512),
                                progress=phases.append)  # fmt: skip
    assert data.startswith(fake_trt.ENGINE_MAGIC)
    assert fake_trt.calls("create_network") == [("create_network", 0)]
    assert fake_trt.calls("set_shape") == [("set_shape", "image", DEFAULT.min, DEFAULT.opt, DEFAULT.max)]
    assert fake_trt.calls("set_flag") == [("set_flag", "FP16"), ("set_flag", "OBEY_PRECISION_CONSTRAINTS")]
    assert fake_trt.calls("set_memory_pool_limit") == [("set_memory_pool_limit", "WORKSPACE", 512 << 20)]
    # InstanceNormalization -> INormalizationLayer pinned to FP32 (layer, output and compute precision)
    assert fake_trt.calls("precision") == [("precision", "in1", "float32")]
    assert fake_trt.calls("set_output_type") == [("set_output_type", "in1", 0, "float32")]
    assert fake_trt.calls("compute_precision") == [("compute_precision", "in1", "float32")]
    assert phases == ["Building engine (3 steps)"]  # top-level phases only
    assert fake_trt.calls("create_timing_cache") == [("create_timing_cache", b"")]
    assert cache.read_bytes() == b"+tactics"
    assert "1 layers kept FP32: in1" in caplog.text
    engine_from_onnx(model, EngineConfig(fp16=True, timing_cache=cache))  # the cache is reused
    assert fake_trt.calls("create_timing_cache")[-1] == ("create_timing_cache", b"+tactics")
    assert cache.read_bytes() == b"+tactics+tactics"


def test_fp32_build_sets_no_precision_constraints(trt, model: Path) -> None:
    engine_from_onnx(model, EngineConfig(version_compatible=True, exclude_lean_runtime=True, profiles=(
        Profile((1, 3, 16, 16), (1, 3, 64, 64), (2, 3, 128, 128)), Profile((4, 3, 16, 16), (8, 3, 64, 64),
                                                                           (8, 3, 64, 64)))))  # fmt: skip
    assert fake_trt.calls("set_flag") == [
        ("set_flag", "VERSION_COMPATIBLE"),
        ("set_flag", "EXCLUDE_LEAN_RUNTIME"),
    ]
    assert fake_trt.calls("precision") == []
    assert [c[2:] for c in fake_trt.calls("set_shape")] == [
        ((1, 3, 16, 16), (1, 3, 64, 64), (2, 3, 128, 128)),
        ((4, 3, 16, 16), (8, 3, 64, 64), (8, 3, 64, 64)),
    ]


def test_int8_qdq_build_has_no_calibrator(trt, qdq_model: Path) -> None:
    engine_from_onnx(qdq_model, EngineConfig(int8=True))
    assert ("set_flag", "INT8") in fake_trt.CALLS
    assert fake_trt.calls("set_calibration_profile") == []


def test_int8_calibrated_build_writes_and_reuses_cache(trt, model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "calib"
    folder.mkdir()
    for i in range(5):
        Image.fromarray(np.full((40, 50, 3), i * 40, np.uint8)).save(folder / f"{i}.png")
    cache = tmp_path / "calib.cache"
    opt = Profile((1, 3, 16, 16), (2, 3, 32, 32), (2, 3, 64, 64))
    config = EngineConfig(int8=True, calib_data=folder, calib_cache=cache, profiles=(opt,))
    engine_from_onnx(model, config, cuda_backend=fake_trt.FakeCuda())
    assert fake_trt.calls("set_calibration_profile") == [("set_calibration_profile", 0)]
    assert (
        fake_trt.calls("calibration_batch") == [("calibration_batch", 2, 1)] * 2
    )  # 5 images -> 2 full batches
    assert cache.read_bytes() == b"calibration-table"
    engine_from_onnx(model, config, cuda_backend=fake_trt.FakeCuda())
    assert fake_trt.calls("calibration_cache_read") == [("calibration_cache_read", b"calibration-table")]
    with pytest.raises(InputError, match="at least 8 images"):
        big = Profile((1, 3, 16, 16), (8, 3, 32, 32), (8, 3, 32, 32))
        engine_from_onnx(model, EngineConfig(int8=True, calib_data=folder, profiles=(big,)),
                         cuda_backend=fake_trt.FakeCuda())  # fmt: skip


def test_build_failures_are_engine_build_errors(trt, model: Path, tmp_path: Path) -> None:
    bad = tiny_model(tmp_path / "bad.onnx", unsupported=True)
    with pytest.raises(EngineBuildError, match=r"parser rejected bad\.onnx: node bad: no importer for op"):
        engine_from_onnx(bad, EngineConfig())
    fake_trt.Builder.fail = True
    with pytest.raises(EngineBuildError, match=r"could not build an engine from model\.onnx: out of tactics"):
        engine_from_onnx(model, EngineConfig())
    fake_trt.Builder.fail = False
    (tmp_path / "t.cache").write_bytes(b"MISMATCH")
    with pytest.raises(EngineBuildError, match="made on another GPU or TensorRT"):
        engine_from_onnx(model, EngineConfig(timing_cache=tmp_path / "t.cache"))


def test_build_engine_writes_plan_and_sidecar(trt, model: Path, tmp_path: Path) -> None:
    plan = tmp_path / "out" / "model.plan"
    result = build_engine(model, plan, EngineConfig(fp16=True), cuda_backend=fake_trt.FakeCuda())
    assert plan.read_bytes().startswith(fake_trt.ENGINE_MAGIC) and result.size_bytes == plan.stat().st_size
    sidecar = read_sidecar(plan)
    assert (sidecar.trt_version, sidecar.gpu_name, sidecar.compute_capability) == (
        fake_trt.VERSION,
        "NVIDIA H100 80GB HBM3",
        "9.0",
    )
    assert sidecar.profiles == (DEFAULT,) and sidecar.precisions == ("fp32", "fp16")
    assert sidecar.onnx_sha256 == sha256_file(model) and sidecar.nst_version == "0.1.0"
    assert sidecar.build_command == f"nst build-engine {model} -o {plan} --fp16 --force"
    assert json.loads(sidecar.model_metadata["nst.styles"]) == ["swirl"]
    with pytest.raises(OutputExistsError, match="already exists"):
        build_engine(model, plan, EngineConfig(), cuda_backend=fake_trt.FakeCuda())


def test_implicit_int8_needs_a_single_input_model_and_an_existing_cache(tmp_path: Path) -> None:
    two = ExportSpec(family="cin", inputs=(TensorSpec("image", ("batch", 3, "height", "width")),
                                           TensorSpec("style_weights", (2,), range=None)))  # fmt: skip
    info = read_model(tiny_model(tmp_path / "cin.onnx", spec=two))
    with pytest.raises(InputError, match=r"the entropy calibrator feeds images only: make a QDQ model"):
        resolve_profiles(EngineConfig(int8=True, calib_cache=tmp_path / "c.cache"), info)
    single = read_model(tiny_model(tmp_path / "m.onnx"))
    with pytest.raises(InputError, match=r"--calib-cache .*c\.cache does not exist; give --calib-data DIR"):
        resolve_profiles(EngineConfig(int8=True, calib_cache=tmp_path / "c.cache"), single)
