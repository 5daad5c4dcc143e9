import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from nst.contract.metadata import ModelMetadata
from nst.contract.spec import ExportSpec
from nst.errors import CheckpointError, OutputExistsError, ValidationError
from nst.export.onnx_export import export_checkpoint
from nst.export.validate import validate_onnx
from nst.train.checkpoint import load_checkpoint, model_from_checkpoint
from nst.train.models.johnson import JohnsonConfig, JohnsonNet

JOHNSON_SPEC = JohnsonNet(JohnsonConfig(4, 1)).export_spec()


@pytest.mark.parametrize("shape", [(1, 97, 131), (1, 333, 517), (3, 16, 16), (1, 21, 250)])
def test_onnx_matches_pytorch_at_odd_sizes(
    tiny_onnx: Path, tiny_checkpoint: Path, shape: tuple[int, int, int]
) -> None:
    model = model_from_checkpoint(load_checkpoint(tiny_checkpoint))
    (check,) = validate_onnx(model, tiny_onnx, JOHNSON_SPEC, sizes=(shape,), seed=1)
    assert check.max_abs_diff < 1e-4


def test_graph_has_dynamic_axes_and_no_transposed_conv(tiny_onnx: Path) -> None:
    model = onnx.load(str(tiny_onnx))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "height", "width"]
    ops = {n.op_type for n in model.graph.node}
    assert "InstanceNormalization" in ops and "Pad" in ops
    assert "ConvTranspose" not in ops
    assert model.opset_import[0].version >= 17


def test_metadata_round_trip(tiny_onnx: Path) -> None:
    props = {p.key: p.value for p in onnx.load(str(tiny_onnx)).metadata_props}
    meta = ModelMetadata.from_props(props)
    assert meta.family == "johnson" and meta.styles == ("stripes",)
    assert meta.spec == JOHNSON_SPEC
    assert json.loads(props["nst.train_config"])["image_size"] == 32
    model_config = json.loads(props["nst.model_config"])
    assert model_config == {"base_channels": 4, "num_residual": 1, "variant": "paper"}


def test_existing_output_needs_force(tiny_onnx: Path, tiny_checkpoint: Path) -> None:
    before = tiny_onnx.read_bytes()
    with pytest.raises(OutputExistsError, match="--force"):
        export_checkpoint(tiny_checkpoint, tiny_onnx)
    assert tiny_onnx.read_bytes() == before


def test_validation_failure_leaves_no_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                           tiny_checkpoint: Path) -> None:  # fmt: skip
    strict = ExportSpec(family="johnson", atol=-1.0, validation_sizes=((1, 33, 35),))
    monkeypatch.setattr(JohnsonNet, "export_spec", lambda self: strict)
    out = tmp_path / "m.onnx"
    with pytest.raises(ValidationError, match="max abs diff") as info:
        export_checkpoint(tiny_checkpoint, out)
    assert info.value.max_abs_diff is not None
    assert not out.exists() and not list(tmp_path.iterdir())


def test_validation_detects_a_wrong_model(tiny_onnx: Path, tiny_checkpoint: Path) -> None:
    model = model_from_checkpoint(load_checkpoint(tiny_checkpoint))
    with torch.no_grad():
        model.decoder[-1][1].bias += 0.5  # the torch model no longer matches the ONNX file
    with pytest.raises(ValidationError):
        validate_onnx(model, tiny_onnx, JOHNSON_SPEC, sizes=((1, 40, 41),))


def test_bad_checkpoints(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        export_checkpoint(tmp_path / "missing.pt", tmp_path / "m.onnx")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="cannot read"):
        export_checkpoint(junk, tmp_path / "m.onnx")
    torch.save({"hello": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an nst checkpoint"):
        export_checkpoint(tmp_path / "other.pt", tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_ort_runs_batch_of_odd_size(tiny_onnx: Path) -> None:
    session = ort.InferenceSession(str(tiny_onnx), providers=["CPUExecutionProvider"])
    out = session.run(None, {"image": np.random.rand(2, 3, 37, 53).astype(np.float32)})[0]
    assert out.shape == (2, 3, 37, 53) and out.min() >= 0 and out.max() <= 1
