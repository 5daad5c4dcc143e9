"""The engine builder: options, precision and profile rules (no TensorRT), and real TensorRT-RTX
builds of tiny nets for SM86 (no GPU needed; skipped only where tensorrt_rtx is absent)."""

import logging
import subprocess
import sys
import types
from pathlib import Path

import pytest

from nst.artifacts import sha256_file
from nst.contract.profiles import Profile, input_shapes, parse_profiles, parse_shape, profiles_from_spec
from nst.contract.spec import ExportSpec, TensorSpec
from nst.errors import EngineBuildError, InputError, MissingDependencyError, ModelError, OutputExistsError
from nst.runtime.trt.build import build_engine, build_network, engine_from_onnx, write_engine
from nst.runtime.trt.config import EngineConfig, build_command, check_precision, read_model, resolve_profiles
from nst.runtime.trt.cuda import GpuInfo
from nst.runtime.trt.libs import TrtLib, import_library, parse_compute_capability, select_library
from nst.runtime.trt.sidecar import read_sidecar, sidecar_path
from nst.runtime.trt.targets import resolve_targets
from tests.runtime import fake_trt
from tests.runtime.trt.tiny import SM86, conv_model, fp16_model, requires_rtx

DEFAULT = Profile((1, 3, 16, 16), (1, 3, 720, 1280), (4, 3, 2160, 3840))
SMALL = Profile((1, 3, 16, 16), (1, 3, 32, 32), (2, 3, 64, 64))
RTX86 = {"compute_capabilities": SM86, "profiles": (SMALL,)}


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    return conv_model(tmp_path / "model.onnx")


@pytest.fixture()
def qdq_model(tmp_path: Path) -> Path:
    return conv_model(tmp_path / "model.int8.onnx", qdq=True)


def test_parse_shapes_and_profiles() -> None:
    assert parse_shape("1x3x64x64") == (1, 3, 64, 64)
    assert parse_profiles(["1x3x64x64"], ["1x3x720x1280"], ["4x3x2160x3840"]) == (
        Profile((1, 3, 64, 64), (1, 3, 720, 1280), (4, 3, 2160, 3840)),
    )
    two = parse_profiles(
        ["1x3x16x16", "8x3x16x16"], ["1x3x64x64", "8x3x64x64"], ["4x3x256x256", "8x3x256x256"]
    )
    assert len(two) == 2 and parse_profiles([], [], []) == ()


@pytest.mark.parametrize(
    ("mins", "opts", "maxs", "message"),
    [
        (["1x3x64"], ["1x3x64x64"], ["1x3x64x64"], r"'1x3x64' must be NxCxHxW"),
        (["1x3x0x64"], ["1x3x64x64"], ["1x3x64x64"], "positive integers"),
        (["1x3x64x64"], [], ["1x3x64x64"], r"same number of times \(got 1, 0, 1\)"),
        (["1x3x64x64"], ["1x3x32x64"], ["1x3x64x64"], "H must satisfy min <= opt <= max"),
    ],
)
def test_bad_profiles(mins: list, opts: list, maxs: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_profiles(mins, opts, maxs)


def test_profile_derived_from_spec_and_checked_against_it(model: Path) -> None:
    source = read_model(model)
    assert source.precision == "fp32" and source.sha256 == sha256_file(model)
    assert profiles_from_spec(source.metadata.spec) == (DEFAULT,)
    assert resolve_profiles(EngineConfig(), source) == (DEFAULT,)
    small = Profile((1, 3, 8, 8), (1, 3, 64, 64), (1, 3, 64, 64))
    with pytest.raises(InputError, match="H and W must be >= 16 for a johnson model"):
        resolve_profiles(EngineConfig(profiles=(small,)), source)
    four = Profile((1, 4, 16, 16), (1, 4, 64, 64), (1, 4, 64, 64))
    with pytest.raises(InputError, match="image has a fixed axis of size 3"):
        resolve_profiles(EngineConfig(profiles=(four,)), source)


def test_input_shapes_of_multi_input_specs() -> None:
    spec = ExportSpec(family="cin", inputs=(
        TensorSpec("image", ("batch", 3, "height", "width")), TensorSpec("style_weights", (4,), range=None),
        TensorSpec("style_masks", ("batch", 4, "height", "width"))))  # fmt: skip
    shapes = input_shapes(spec, DEFAULT)
    assert shapes["style_weights"] == ((4,), (4,), (4,)) and shapes["style_masks"][2] == (4, 4, 2160, 3840)
    odd = ExportSpec(family="swap", inputs=(*spec.inputs, TensorSpec("style", (1, 3, "sh", "sw"))))
    with pytest.raises(InputError, match="cannot derive a profile for input 'style' axis 'sh'"):
        input_shapes(odd, DEFAULT)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fp16": True, "int8": True}, "--fp16 and --int8 exclude each other"),
        ({"library": "trt11"}, r"--trt must be one of \['auto', 'tensorrt', 'rtx'\]"),
        (
            {"compute_capabilities": ("90",)},
            r"'90' is not one TensorRT-RTX targets; valid: 75, 80, 86, 89, 120",
        ),
        (
            {"compute_capabilities": ("86",), "library": "tensorrt"},
            "needs TensorRT-RTX .*build on the target GPU",
        ),
        ({"exclude_lean_runtime": True}, "needs --version-compatible"),
        ({"workspace_mb": 0}, ">= 1 MiB"),
        ({"optimization_level": 6}, "must be 0-5"),
        ({"timing_cache": Path(".")}, "is a folder"),
        ({"profiles": (Profile((2, 3, 16, 16), (1, 3, 16, 16), (2, 3, 16, 16)),)}, "N must satisfy"),
    ],
)
def test_engine_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        EngineConfig(**kwargs)


def test_compute_capabilities_accept_both_spellings() -> None:
    assert EngineConfig(compute_capabilities=("86", "8.6", "sm_120", "SM121")).compute_capabilities == (
        "8.6", "12.0", "12.1")  # fmt: skip
    assert [parse_compute_capability(c) for c in ("75", "8.0", "89")] == ["7.5", "8.0", "8.9"]


def test_precision_comes_from_the_model(model: Path, qdq_model: Path, tmp_path: Path) -> None:
    fp16 = read_model(fp16_model(model, tmp_path / "model.fp16.onnx"))
    fp16_io = read_model(fp16_model(model, tmp_path / "io.fp16.onnx", fp16_io=True))
    fp32, int8 = read_model(model), read_model(qdq_model)
    assert [m.precision for m in (fp32, fp16, fp16_io, int8)] == ["fp32", "fp16", "fp16", "int8"]
    assert fp16_io.float16_io and not fp16.float16_io
    for config, source in [
        (EngineConfig(), fp32),
        (EngineConfig(fp16=True), fp16),
        (EngineConfig(int8=True), int8),
    ]:
        check_precision(config, source)
    with pytest.raises(
        InputError,
        match=r"--fp16 builds an FP16 ONNX model and model\.onnx is FP32; make one "
        r"first: nst calibrate .*model\.onnx --precision fp16 --data IMAGES -o .*model\.fp16",
    ):
        check_precision(EngineConfig(fp16=True), fp32)  # fmt: skip
    with pytest.raises(InputError, match=r"--int8 builds an INT8 ONNX .*--precision int8"):
        check_precision(EngineConfig(int8=True), fp32)
    with pytest.raises(
        InputError, match=r"model\.int8\.onnx is INT8-quantised \(Q/DQ nodes\); build it with --int8$"
    ):
        check_precision(EngineConfig(), int8)
    with pytest.raises(InputError, match=r"is an FP16 model; build it with --fp16, not --int8"):
        check_precision(EngineConfig(int8=True), fp16)


def test_read_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        read_model(tmp_path / "none.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage")
    with pytest.raises(ModelError, match=r"cannot read ONNX model .*bad\.onnx"):
        read_model(tmp_path / "bad.onnx")


def test_build_command_round_trips_options() -> None:
    config = EngineConfig(fp16=True, timing_cache=Path("t c.cache"), compute_capabilities=("86", "120"),
                          profiles=(DEFAULT,), workspace_mb=1024)  # fmt: skip
    assert build_command("m.onnx", "m.plan", config, "tensorrt_rtx") == (
        "nst build-engine m.onnx -o m.plan --trt rtx --compute-capability 86 --compute-capability 120 --fp16 "
        "--timing-cache 't c.cache' --workspace-mb 1024 --min 1x3x16x16 --opt 1x3x720x1280 "
        "--max 4x3x2160x3840 --force"
    )
    vc = EngineConfig(version_compatible=True, exclude_lean_runtime=True)
    assert build_command("m.onnx", "m.plan", vc, "tensorrt").endswith(
        "--trt tensorrt --version-compatible --exclude-lean-runtime --force")  # fmt: skip


def test_engine_modules_do_not_import_tensorrt_or_cuda() -> None:
    modules = "nst.runtime.trt, nst.runtime.trt.build, nst.runtime.trt.runner, nst.runtime.trt.cuda, "
    modules += "nst.runtime.trt.sidecar, nst.runtime.trt.libs, nst.cli.build_engine_cmd"
    libraries = "{'tensorrt', 'tensorrt_rtx', 'pycuda', 'cuda', 'torch', 'nst.calibration'}"
    code = f"import sys, {modules}; print(sorted({libraries} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _module(name: str, version: str) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__version__ = version  # type: ignore[attr-defined]
    return mod


def test_library_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", _module("tensorrt", "10.16.1.11"))
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", _module("tensorrt_rtx", "1.7.1.116"))
    assert select_library("auto").name == "tensorrt"  # auto prefers TensorRT
    assert select_library("auto", targets=True).name == "tensorrt_rtx"  # ... unless targets are named
    assert select_library("rtx").label == "TensorRT-RTX 1.7.1.116"
    with pytest.raises(InputError, match="did you mean 'rtx'"):
        select_library("rxt")
    monkeypatch.setitem(sys.modules, "tensorrt", _module("tensorrt", "12.0.0"))
    with pytest.raises(MissingDependencyError, match=r"needs TensorRT 10\.x or 11\.x, found 12\.0\.0"):
        select_library("tensorrt")
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    assert select_library("auto").name == "tensorrt_rtx"
    with pytest.raises(
        MissingDependencyError, match=r"tensorrt is not installed; install it with: pip install 'nst\[trt\]'"
    ):
        select_library("tensorrt")  # fmt: skip
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'nst\[trt\]' .* or 'nst\[trt-rtx\]'"):
        select_library("auto")


@requires_rtx
def test_strongly_typed_network_flags() -> None:
    rtx = import_library("tensorrt_rtx")
    flag = 1 << int(rtx.module.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    assert TrtLib("tensorrt", rtx.module, "10.16.1.11").network_flags == flag  # 10.x must ask for it
    assert TrtLib("tensorrt", rtx.module, "11.4.0.106").network_flags == 0  # always strongly typed
    assert rtx.network_flags == 0 and rtx.has_targets


def test_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    rtx, trt = TrtLib("tensorrt_rtx", None, "1.7.1.116"), TrtLib("tensorrt", None, "10.16.1.11")
    a6000, h200 = fake_trt.FakeCuda(), fake_trt.FakeCuda(GpuInfo("NVIDIA H200", "9.0"))
    named = resolve_targets(rtx, EngineConfig(compute_capabilities=("86", "120")), a6000)
    assert (named.compute_capabilities, named.current, named.gpu) == (("8.6", "12.0"), False, None)
    here = resolve_targets(rtx, EngineConfig(), a6000)
    assert (here.compute_capabilities, here.current, here.gpu) == (("8.6",), True, fake_trt.A6000)
    assert resolve_targets(trt, EngineConfig(), h200).compute_capabilities == ("9.0",)
    with pytest.raises(
        InputError,
        match=r"TensorRT-RTX 1\.7\.1\.116 does not support NVIDIA H200 \(compute "
        r"capability 9\.0\); it targets 75, 80, 86, 89, 120, 121: use TensorRT",
    ):
        resolve_targets(rtx, EngineConfig(), h200)  # fmt: skip
    monkeypatch.setattr("nst.runtime.trt.targets.detect_gpu", lambda binding: None)
    with pytest.raises(
        InputError,
        match=r"^no CUDA GPU here to build for: name the target GPUs with "
        r"--compute-capability \(valid: 75, 80, 86, 89, 120, 121\)$",
    ):
        resolve_targets(rtx, EngineConfig())  # fmt: skip
    with pytest.raises(
        EngineBuildError, match=r"builds engines on the GPU they will run on and found no CUDA"
    ):
        resolve_targets(trt, EngineConfig())
    with pytest.raises(InputError, match="--compute-capability needs TensorRT-RTX"):
        resolve_targets(trt, EngineConfig(compute_capabilities=("86",)))


def test_missing_libraries_name_both_extras(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("tensorrt", "tensorrt_rtx"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import name` fail
    with pytest.raises(MissingDependencyError, match=r"nst\[trt\].*nst\[trt-rtx\]"):
        engine_from_onnx(model, EngineConfig(**RTX86))


@requires_rtx
def test_fp32_build_for_named_targets(model: Path, tmp_path: Path) -> None:
    built = build_network(model, EngineConfig(compute_capabilities=("86", "120"), profiles=(SMALL,)))
    assert built.lib.name == "tensorrt_rtx" and built.targets.compute_capabilities == ("8.6", "12.0")
    assert len(built.data) > 100_000 and built.io_dtypes == {"image": "float32", "stylized": "float32"}
    single = engine_from_onnx(model, EngineConfig(**RTX86))
    assert len(single) > 100_000 and single != built.data


@requires_rtx
def test_fp16_and_int8_builds_take_the_precision_from_the_onnx(
    model: Path, qdq_model: Path, tmp_path: Path
) -> None:
    fp16_io = fp16_model(model, tmp_path / "io.fp16.onnx", fp16_io=True)
    built = build_network(fp16_io, EngineConfig(fp16=True, **RTX86))
    assert built.io_dtypes == {"image": "float16", "stylized": "float16"}  # the strongly typed network's
    assert len(build_network(qdq_model, EngineConfig(int8=True, **RTX86)).data) > 100_000
    with pytest.raises(InputError, match="build it with --int8"):
        engine_from_onnx(qdq_model, EngineConfig(**RTX86))  # never built as FP32 behind the user's back


@requires_rtx
def test_unsupported_op_is_an_engine_build_error_with_the_parsers_message(tmp_path: Path) -> None:
    bad = conv_model(tmp_path / "bad.onnx", unsupported=True)
    with pytest.raises(
        EngineBuildError,
        match=r"^TensorRT's ONNX parser rejected bad\.onnx: node bad \(NoSuchOp\): "
        r".*Plugin not found",
    ):
        engine_from_onnx(bad, EngineConfig(**RTX86))  # fmt: skip


@requires_rtx
def test_network_inputs_must_match_the_metadata(tmp_path: Path) -> None:
    two = ExportSpec(family="cin", inputs=(TensorSpec("image", ("batch", 3, "height", "width")),
                                           TensorSpec("style_weights", (2,), range=None)))  # fmt: skip
    path = conv_model(tmp_path / "cin.onnx", spec=two, family="cin")
    with pytest.raises(
        ModelError, match=r"network inputs \['image'\] do not match metadata \['image', 'style_w"
    ):
        engine_from_onnx(path, EngineConfig(**RTX86))


@requires_rtx
@pytest.mark.skipif(Path("/dev/nvidia0").exists(), reason="a GPU is present: the build for it succeeds")
def test_build_for_the_gpu_at_hand_without_a_driver_fails_with_tensorrts_error(model: Path) -> None:
    """A binding that reports an A6000 makes RTX build for ComputeCapability.CURRENT; there is no driver."""
    with pytest.raises(
        EngineBuildError,
        match=r"TensorRT-RTX .* could not build an engine from model\.onnx: "
        r".*(CUDA|cuda)",
    ):
        engine_from_onnx(model, EngineConfig(profiles=(SMALL,)), cuda_binding=fake_trt.FakeCuda())


@requires_rtx
def test_rtx_refuses_options_it_would_ignore(model: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"--version-compatible is a TensorRT 10/11 option; TensorRT-RTX"):
        engine_from_onnx(model, EngineConfig(version_compatible=True, **RTX86))
    with pytest.raises(
        InputError, match=r"--timing-cache is a TensorRT 10/11 option; .* no-ops in TensorRT-RTX"
    ):
        engine_from_onnx(model, EngineConfig(timing_cache=tmp_path / "t.cache", **RTX86))
    assert not (tmp_path / "t.cache").exists()


@requires_rtx
def test_progress_options_and_log(model: Path, caplog: pytest.LogCaptureFixture) -> None:
    phases: list[str] = []
    config = EngineConfig(workspace_mb=256, optimization_level=1, **RTX86)
    with caplog.at_level(logging.INFO, logger="nst.trt"):
        assert len(engine_from_onnx(model, config, progress=phases.append)) > 100_000
    assert "built engine with TensorRT-RTX 1." in caplog.text and "for 8.6 in" in caplog.text
    assert phases and all(p.endswith(" steps)") for p in phases)  # top-level phases only


@requires_rtx
def test_build_engine_writes_plan_and_sidecar_together(model: Path, tmp_path: Path) -> None:
    import tensorrt_rtx

    plan = tmp_path / "out" / "model.plan"
    two = (SMALL, Profile((4, 3, 16, 16), (8, 3, 32, 32), (8, 3, 32, 32)))
    result = build_engine(model, plan, EngineConfig(compute_capabilities=SM86, profiles=two))
    assert plan.stat().st_size == result.size_bytes > 100_000
    sidecar = read_sidecar(plan)
    assert (sidecar.library, sidecar.library_version) == ("tensorrt_rtx", tensorrt_rtx.__version__)
    assert sidecar.compute_capabilities == ("8.6",) and sidecar.gpu_name == "" and sidecar.profiles == two
    assert (sidecar.precision, sidecar.source_precision) == ("fp32", "fp32") and sidecar.input_name == "image"
    assert sidecar.io_dtypes == {"image": "float32", "stylized": "float32"}
    assert sidecar.onnx_sha256 == sha256_file(model) and sidecar.onnx_path == str(model)
    assert sidecar.build_command.startswith(
        f"nst build-engine {model} -o {plan} --trt rtx --compute-capability 86"
    )
    assert sorted(p.name for p in plan.parent.iterdir()) == ["model.plan", "model.plan.json"]  # no temp files
    with pytest.raises(OutputExistsError, match="already exists"):
        build_engine(model, plan, EngineConfig(**RTX86))
    build_engine(model, plan, EngineConfig(**RTX86), force=True)
    assert read_sidecar(plan).profiles == (SMALL,)


def test_a_plan_too_small_to_be_an_engine_is_not_kept(tmp_path: Path) -> None:
    from tests.runtime.test_sidecar import SIDECAR

    plan = tmp_path / "m.plan"
    with pytest.raises(EngineBuildError, match="returned a 3-byte plan"):
        write_engine(plan, b"abc", SIDECAR)
    assert list(tmp_path.iterdir()) == [] and not sidecar_path(plan).exists()
