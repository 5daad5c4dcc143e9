"""``nst export-triton`` without a server: configs read back through Triton's own protobuf schema.

Every config written is parsed here with ``google.protobuf.text_format`` into
``tritonclient.grpc.model_config_pb2.ModelConfig`` (the schema Triton itself loads), never
string-matched. The real-server run of the same repositories is in ``test_triton_server.py``.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

if os.environ.get("CI") != "true":
    pytest.importorskip("tritonclient.grpc", reason="nst export-triton needs tritonclient[grpc]")

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as pb

from nst.cli import export_triton_cmd, main  # noqa: F401 (register commands; main.py will import ours)
from nst.cli.app import app
from nst.contract.metadata import ModelMetadata
from nst.errors import InputError, ModelError, OutputExistsError
from nst.export.triton import TritonOptions, export_triton, model_config, validated_text
from nst.export.triton_source import ModelSource, read_source
from nst.export.triton_template import MODEL_PY
from tests.runtime.onnx_models import tiny_model
from tests.serve.models import served_models


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("triton_models")
    return served_models(folder)


def read_config(folder: Path) -> Any:
    return text_format.Parse((folder / "config.pbtxt").read_text(encoding="utf-8"), pb.ModelConfig())


def export(models: dict[str, Path], out: Path, **options: Any) -> Any:
    return export_triton(TritonOptions(models=models, output=out, **options))


def tensors(config: Any) -> dict[str, tuple[str, list[int]]]:
    return {t.name: (pb.DataType.Name(t.data_type), list(t.dims)) for t in (*config.input, *config.output)}


def test_single_style_onnx_is_batched_with_tensorrt_accelerator(
    models: dict[str, Path], tmp_path: Path
) -> None:
    result = export({"tiny": models["tiny"]}, tmp_path / "repo")
    config = read_config(tmp_path / "repo" / "tiny")
    assert (config.name, config.backend, config.max_batch_size) == ("tiny", "onnxruntime", 8)
    assert tensors(config) == {"image": ("TYPE_FP32", [3, -1, -1]), "stylized": ("TYPE_FP32", [3, -1, -1])}
    assert config.HasField("dynamic_batching") and config.dynamic_batching.max_queue_delay_microseconds == 100
    assert [(g.count, pb.ModelInstanceGroup.Kind.Name(g.kind)) for g in config.instance_group] == [
        (1, "KIND_GPU")
    ]
    (accelerator,) = config.optimization.execution_accelerators.gpu_execution_accelerator
    assert accelerator.name == "tensorrt" and accelerator.parameters["precision_mode"] == "FP16"
    assert (tmp_path / "repo/tiny/1/model.onnx").read_bytes() == models["tiny"].read_bytes()
    assert result.summary().startswith(f"wrote {tmp_path / 'repo'}/ (1 model, ")
    assert result.summary().endswith(": tiny (onnxruntime, batch 8)")


def test_inputs_without_batch_axis_make_an_unbatched_model(models: dict[str, Path], tmp_path: Path) -> None:
    export({"mix": models["mix"], "swap": models["swap"]}, tmp_path, max_batch_size=4)
    mix, swap = read_config(tmp_path / "mix"), read_config(tmp_path / "swap")
    assert mix.max_batch_size == 0 and not mix.HasField("dynamic_batching")
    assert tensors(mix) == {"image": ("TYPE_FP32", [-1, 3, -1, -1]), "style_weights": ("TYPE_FP32", [2]),
                            "stylized": ("TYPE_FP32", [-1, 3, -1, -1])}  # fmt: skip
    assert tensors(swap)["style"] == ("TYPE_FP32", [1, 3, -1, -1]) and swap.max_batch_size == 0


def test_both_backends_and_the_python_model(models: dict[str, Path], tmp_path: Path) -> None:
    result = export({"tiny": models["tiny"]}, tmp_path, backend="both", instance_kind="cpu", threads=2)
    native, python = read_config(tmp_path / "tiny"), read_config(tmp_path / "tiny_python")
    assert (native.backend, python.backend) == ("onnxruntime", "python")
    assert not native.optimization.HasField("execution_accelerators")  # CPU: no TensorRT
    assert pb.ModelInstanceGroup.Kind.Name(python.instance_group[0].kind) == "KIND_CPU"
    params = {k: v.string_value for k, v in python.parameters.items()}
    assert params == {"nst_model": "model.onnx", "nst_providers": "cpu", "nst_threads": "2"}
    assert python.max_batch_size == 8 and tensors(python) == tensors(native)
    code = (tmp_path / "tiny_python/1/model.py").read_text(encoding="utf-8")
    assert code == MODEL_PY
    tree = ast.parse(code)
    assert {n.name for n in tree.body if isinstance(n, ast.ClassDef)} == {"TritonPythonModel"}
    assert [m.name for m in result.models] == ["tiny", "tiny_python"]


def test_fp16_io_in_native_config_float32_in_python_one(tmp_path: Path) -> None:
    """The onnxruntime backend checks the graph's FP16 I/O; nst's Runner takes float32 and casts."""
    model = tiny_model(tmp_path / "half.onnx", io_dtype="float16")
    export({"half": model}, tmp_path / "repo", backend="both")
    assert tensors(read_config(tmp_path / "repo/half"))["image"] == ("TYPE_FP16", [3, -1, -1])
    assert tensors(read_config(tmp_path / "repo/half_python"))["image"] == ("TYPE_FP32", [3, -1, -1])


def test_every_family_gets_a_valid_config(tmp_path: Path) -> None:
    """Each family's real ExportSpec: batched exactly when every tensor leads with ``batch``."""
    pytest.importorskip("torch")
    from nst.train.models import FAMILIES, build_model

    batched = {}
    for family in FAMILIES:
        spec = build_model(family, {}).export_spec()
        source = ModelSource(tmp_path / f"{family}.onnx", "onnx", ModelMetadata(family, (), spec, "0", {}))
        options = TritonOptions(models={family: source.path}, output=tmp_path, backend="both")
        for backend in ("onnxruntime", "python"):
            config = model_config(family, backend, source, options)
            parsed = text_format.Parse(validated_text(config), pb.ModelConfig())
            assert [t.name for t in parsed.input] == [t.name for t in spec.inputs]
        batched[family] = parsed.max_batch_size > 0
    assert batched == {"johnson": True, "cin": False, "stylebank": False, "styleswap": False,
                       "texture": True, "texture_style": True, "sr": True}  # fmt: skip


def test_engines_from_the_sidecar(tmp_path: Path) -> None:
    """A real TensorRT-RTX build (no GPU needed) and its sidecar, then the same as a TensorRT one."""
    from tests.runtime.trt.tiny import HAS_RTX, conv_model

    if not HAS_RTX:
        pytest.skip("tensorrt_rtx is not installed (the trt-rtx extra builds engines without a GPU)")
    from nst.contract.profiles import Profile
    from nst.runtime.trt.build import build_engine
    from nst.runtime.trt.config import EngineConfig

    plan = tmp_path / "conv.plan"
    profile = Profile((1, 3, 16, 16), (2, 3, 32, 32), (4, 3, 64, 64))
    config = EngineConfig(library="rtx", compute_capabilities=("8.6",), profiles=(profile,))
    build_engine(conv_model(tmp_path / "conv.onnx"), plan, config)
    source = read_source(plan)
    assert (source.kind, source.library, source.max_batch) == ("plan", "tensorrt_rtx", 4)
    with pytest.raises(InputError, match="Triton's tensorrt backend loads TensorRT engines only"):
        export({"conv": plan}, tmp_path / "repo")
    export({"conv": plan}, tmp_path / "repo", backend="python")
    python = read_config(tmp_path / "repo/conv")
    assert python.max_batch_size == 4 and python.parameters["nst_model"].string_value == "model.plan"
    assert (tmp_path / "repo/conv/1/model.plan.json").read_bytes() == (
        tmp_path / "conv.plan.json"
    ).read_bytes()

    sidecar = json.loads((tmp_path / "conv.plan.json").read_text())  # as TensorRT 10 would record it
    (tmp_path / "conv.plan.json").write_text(json.dumps({**sidecar, "library": "tensorrt",
                                                         "library_version": "10.13.0"}))  # fmt: skip
    result = export({"conv": plan}, tmp_path / "trt")
    native = read_config(tmp_path / "trt/conv")
    assert (native.backend, native.default_model_filename, native.max_batch_size) == (
        "tensorrt",
        "model.plan",
        4,
    )
    assert "conv needs Triton with TensorRT 10.13.0" in result.summary()
    with pytest.raises(InputError, match=r"max batch size 8 is over conv.plan's profile \(batch <= 4\)"):
        export({"conv": plan}, tmp_path / "trt", max_batch_size=8, force=True)
    with pytest.raises(InputError, match="TensorRT engine: it needs GPU instances"):
        export({"conv": plan}, tmp_path / "cpu", instance_kind="cpu")


def test_user_errors(models: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "repo"
    export({"tiny": models["tiny"]}, out)
    with pytest.raises(OutputExistsError, match=r"config.pbtxt already exists; use --force"):
        export({"tiny": models["tiny"]}, out)
    export({"tiny": models["tiny"]}, out, force=True)
    (out / "tiny" / "2").mkdir()
    with pytest.raises(OutputExistsError, match=r"has version folder\(s\) 2, which Triton would serve"):
        export({"tiny": models["tiny"]}, out, force=True)
    with pytest.raises(InputError, match=r"unknown backend 'pyton' .*; did you mean 'python'\?"):
        TritonOptions(models={"tiny": models["tiny"]}, output=out, backend="pyton")
    with pytest.raises(InputError, match="bad model name 'a b'"):
        TritonOptions(models={"a b": models["tiny"]}, output=out)
    with pytest.raises(InputError, match="model name 'tiny_python' given twice"):
        export({"tiny": models["tiny"], "tiny_python": models["mix"]}, tmp_path / "x", backend="both")
    with pytest.raises(InputError, match="is not a model file"):
        export({"x": Path(__file__)}, tmp_path / "x")
    bare = tmp_path / "bare.onnx"
    bare.write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="is not an ONNX model"):
        export({"bare": bare}, tmp_path / "x")
    plan = tmp_path / "lone.plan"
    plan.write_bytes(b"engine")
    with pytest.raises(ModelError, match=r"lone\.plan\.json not found"):
        export({"lone": plan}, tmp_path / "x")
    assert not (tmp_path / "x").exists()  # nothing written before every model was read


def test_cli(models: dict[str, Path], tmp_path: Path) -> None:
    cli = CliRunner()
    out = tmp_path / "repo"
    args = ["export-triton", str(models["tiny"]), "--name", f"cin={models['mix']}", "-o", str(out)]
    result = cli.invoke(app, [*args, "--backend", "python", "--instance-kind", "cpu"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(": tiny (python, batch 8), cin (python, unbatched)")
    assert read_config(out / "cin").backend == "python"
    again = cli.invoke(app, args)
    assert again.exit_code == 1 and again.output.startswith("error: ") and "--force" in again.output
    bad = cli.invoke(app, ["export-triton", "-o", str(out), "--name", "oops"])
    assert (bad.exit_code, bad.output.strip()) == (1, "error: --name expects NAME=PATH, got 'oops'")
