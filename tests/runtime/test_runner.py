from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst.errors import InputError, InputImageError, ModelError, OutputExistsError
from nst.runtime.onnxrt.runner import OrtRunner, resolve_providers
from nst.runtime.stylizer import Stylizer, default_model_path, plan_outputs


@pytest.fixture()
def runner(tiny_onnx: Path) -> OrtRunner:
    return OrtRunner(tiny_onnx, providers="cpu")


def test_runner_runs_and_reports_providers(runner: OrtRunner) -> None:
    out = runner.infer({"image": np.random.rand(1, 3, 20, 30).astype(np.float32)})
    assert out["stylized"].shape == (1, 3, 20, 30)
    assert runner.providers == ["CPUExecutionProvider"]


@pytest.mark.parametrize(
    ("feed", "message"),
    [
        ({"imag": np.zeros((1, 3, 32, 32), np.float32)}, "did you mean 'image'"),
        ({}, "missing model input"),
        ({"image": np.zeros((1, 3, 32, 32), np.float64)}, "must be float32"),
        ({"image": np.zeros((3, 32, 32), np.float32)}, "rank 4"),
        ({"image": np.zeros((1, 4, 32, 32), np.float32)}, "shape"),
        ({"image": np.zeros((1, 3, 8, 32), np.float32)}, "too small"),
        ({"image": [[1.0]]}, "numpy array"),
    ],
)
def test_bad_feeds_are_input_errors(runner: OrtRunner, feed: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        runner.infer(feed)


def test_bad_model_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        OrtRunner(tmp_path / "missing.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07garbage")
    with pytest.raises(ModelError, match=r"broken\.onnx"):
        OrtRunner(broken)


def test_model_without_nst_metadata(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(ModelError, match="no nst metadata"):
        OrtRunner(path)


def test_unavailable_provider_is_an_error_not_a_fallback() -> None:
    with pytest.raises(InputError, match="not available"):
        resolve_providers("tensorrt")
    assert resolve_providers("cpu") == ["CPUExecutionProvider"]


def test_stylizer_batches_mixed_sizes_in_order(tiny_onnx: Path) -> None:
    arrays = [np.random.rand(20, 30, 3).astype(np.float32) for _ in range(3)] + [np.random.rand(17, 19, 3)]
    with Stylizer(tiny_onnx, batch_size=2) as stylizer:
        single = stylizer.stylize_array(arrays[2])  # before the spy: only stylize_images' calls count
        calls: list[tuple[int, ...]] = []
        original = stylizer.stylize_batch
        stylizer.stylize_batch = lambda b: calls.append(b.shape) or original(b)  # type: ignore[method-assign]
        from nst.io import image_from_array

        outs = stylizer.stylize_images([image_from_array(a.astype(np.float32)) for a in arrays])
    assert [o.shape for o in outs] == [(20, 30, 3)] * 3 + [(17, 19, 3)]
    assert sorted(calls) == sorted([(2, 3, 20, 30), (1, 3, 20, 30), (1, 3, 17, 19)])
    np.testing.assert_allclose(outs[2], single, atol=1e-5)


def test_stylize_folder_and_keep_alpha(tiny_onnx: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    rgba = np.zeros((24, 40, 4), np.uint8)
    rgba[..., :3] = 120
    rgba[..., 3] = np.linspace(0, 255, 40, dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(src / "a.png")
    Image.fromarray(np.full((30, 30, 3), 200, np.uint8)).save(src / "b.jpg")
    jobs = plan_outputs([src], tmp_path / "out")
    with Stylizer(tiny_onnx) as stylizer:
        written = stylizer.run_jobs(jobs)
    assert sorted(p.name for p in written) == ["a.png", "b.png"]
    out = Image.open(tmp_path / "out" / "a.png")
    assert out.mode == "RGBA" and out.size == (40, 24)
    np.testing.assert_allclose(np.asarray(out)[0, :, 3], rgba[0, :, 3], atol=1)


def test_plan_outputs_checks_everything_before_work(tmp_path: Path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for p in (a, b):
        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(p)
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.png").write_bytes(b"keep me")
    with pytest.raises(OutputExistsError, match="--force"):
        plan_outputs([a, b], out)
    assert not (out / "a.png").exists() and (out / "b.png").read_bytes() == b"keep me"
    with pytest.raises(InputError, match="output folder"):
        plan_outputs([a, b], tmp_path / "x.png")
    sub = tmp_path / "sub"
    sub.mkdir()
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(sub / "a.png")
    with pytest.raises(InputError, match="both write"):
        plan_outputs([a, sub / "a.png"], tmp_path / "o2")
    with pytest.raises(InputImageError):
        plan_outputs([tmp_path / "missing.jpg"], tmp_path / "o3.png")


def test_bundled_default_model_is_shipped() -> None:
    path = default_model_path()
    assert path.is_file() and path.stat().st_size < 10 * 2**20
    with Stylizer() as stylizer:
        assert stylizer.runner.metadata.family == "johnson"
        out = stylizer.stylize_array(np.random.rand(33, 47, 3).astype(np.float32))
    assert out.shape == (33, 47, 3)
