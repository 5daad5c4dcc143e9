"""``nst sheet`` / ``contact_sheet``: the bundled single-style model and a tiny 3-style model
(the no-model default, the multi-style one, is tested in test_multistyle_default.py)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import nst.cli.sheet_cmd  # noqa: F401 (registers the command until cli/main.py imports it)
from nst.cli.main import app
from nst.contract.metadata import ModelMetadata
from nst.contract.spec import ExportSpec, TensorSpec, image_tensor
from nst.errors import InputError, OutputExistsError
from nst.runtime.sheet import GAP, LABEL_HEIGHT, SheetOptions, contact_sheet

COLOURS = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)  # style i keeps channel i


def three_style_model(path: Path) -> Path:
    """image * (style_weights @ COLOURS) per channel: a CIN-shaped graph with 3 named styles."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    image = ["batch", 3, "height", "width"]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["style_weights", "colours"], ["mix"]),
         helper.make_node("Reshape", ["mix", "shape"], ["gain"]),
         helper.make_node("Mul", ["image", "gain"], ["stylized"])], "tri",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, image),
         helper.make_tensor_value_info("style_weights", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("stylized", TensorProto.FLOAT, image)],
        initializer=[numpy_helper.from_array(COLOURS, "colours"),
                     numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "shape")],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    spec = ExportSpec(family="cin", inputs=(image_tensor("image", "content"),
                                           TensorSpec("style_weights", (3,), doc="convex mix")))  # fmt: skip
    meta = ModelMetadata("cin", ("red", "green", "blue"), spec, "0.1.0", {})
    for key, value in meta.to_props().items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(np.full((60, 90, 3), 200, np.uint8)).save(path)
    return path


def tile(sheet: Image.Image, index: int, columns: int, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    x, y = GAP + (index % columns) * (w + GAP), GAP + (index // columns) * (h + LABEL_HEIGHT + GAP)
    return np.asarray(sheet)[y : y + h, x : x + w]


def test_bundled_model_gives_original_plus_one_style(photo: Path, tmp_path: Path) -> None:
    from nst.runtime.stylizer import default_model_path

    options = SheetOptions(photo, tmp_path / "sheet.png", models=(default_model_path(),), tile_size=32)
    result = contact_sheet(options)
    assert result.labels[0] == "original" and len(result.labels) == 2
    assert (result.columns, result.rows) == (2, 1)
    sheet = Image.open(tmp_path / "sheet.png")
    assert sheet.size == result.size == (2 * (48 + GAP) + GAP, 32 + LABEL_HEIGHT + 2 * GAP)
    assert np.abs(tile(sheet, 0, 2, (48, 32)).astype(int) - 200).max() <= 1  # the photo, resized
    assert "sheet of the original + 1 stylized tile(s) in 2x1" in result.summary()


def test_every_style_of_a_multi_style_model_in_a_grid(photo: Path, tmp_path: Path) -> None:
    model = three_style_model(tmp_path / "tri.onnx")
    out = tmp_path / "sheet.jpg"
    result = contact_sheet(SheetOptions(photo, out, models=(model,), columns=2, tile_size=20))
    assert result.labels == ("original", "red", "green", "blue") and (result.columns, result.rows) == (2, 2)
    sheet = Image.open(out)
    for i in range(3):  # style i keeps only channel i
        means = tile(sheet, i + 1, 2, (30, 20)).reshape(-1, 3).mean(0)
        assert means.argmax() == i and means[i] > 150 and np.delete(means, i).max() < 40


def test_several_models_are_labelled_by_name(photo: Path, tmp_path: Path) -> None:
    from nst.runtime.stylizer import default_model_path

    model = three_style_model(tmp_path / "tri.onnx")
    result = contact_sheet(SheetOptions(photo, tmp_path / "s.png", models=(default_model_path(), model),
                                        tile_size=16))  # fmt: skip
    assert result.labels == ("original", "default_model", "tri: red", "tri: green", "tri: blue")
    assert (result.columns, result.rows) == (4, 2)


def test_cli_refuses_to_overwrite_and_bad_options(photo: Path, tmp_path: Path) -> None:
    from nst.runtime.stylizer import default_model_path

    cli = CliRunner()
    out = tmp_path / "sheet.png"
    args = ["sheet", str(photo), "-o", str(out), "--tile-size", "16", "-m", str(default_model_path())]
    result = cli.invoke(app, args)
    assert result.exit_code == 0 and result.output.startswith("sheet of the original + 1") and out.exists()
    result = cli.invoke(app, args)
    assert result.exit_code == 1 and result.output.strip().endswith("use --force to overwrite")
    assert cli.invoke(app, [*args, "--force"]).exit_code == 0
    with pytest.raises(OutputExistsError, match="already exists"):
        contact_sheet(SheetOptions(photo, out))
    with pytest.raises(InputError, match="--tile-size must be >= 16"):
        contact_sheet(SheetOptions(photo, tmp_path / "a.png", tile_size=8))
    with pytest.raises(InputError, match="--columns must be >= 1"):
        contact_sheet(SheetOptions(photo, tmp_path / "a.png", columns=0))
    with pytest.raises(InputError, match="is an input of this job"):
        contact_sheet(SheetOptions(photo, photo, force=True))
    with pytest.raises(InputError, match="unknown image suffix"):
        contact_sheet(SheetOptions(photo, tmp_path / "a.txt"))
    assert not (tmp_path / "a.png").exists()
