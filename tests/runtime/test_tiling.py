"""Exact tiling (runtime/tiling): strips with whole-image instance-norm statistics equal one pass.

Real ONNX Runtime and onnx throughout: the bundled model, and untrained exports of every other
family at small widths (one session fixture, exported without validation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nst.errors import InputError, NstError, OutputExistsError
from nst.runtime.registry import open_runner
from nst.runtime.style_inputs import materialise, noise_feeds, style_feeds
from nst.runtime.stylizer import Stylizer, default_model_path
from nst.runtime.tiling import TiledModel, TilingError, export_stats_model
from nst.runtime.tiling.memory import MemoryBudgetError, TileSetting, parse_memory

BUNDLED = default_model_path()
FAMILIES: dict[str, dict[str, Any]] = {
    "cin": {"base_channels": 4, "num_residual": 1, "num_styles": 2},
    "stylebank": {"base_channels": 4, "num_styles": 2, "bank_layers": 1},
    "texture_style": {"scales": 3, "block_channels": 2},
    "sr": {"scale": 4, "channels": 4, "num_residual": 1},
}  # johnson: the bundled model; styleswap: refused (its swap scales by a whole-image max)


@pytest.fixture(scope="session")
def family_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Untrained exports of each family (random weights: the graph is what tiling sees)."""
    torch = pytest.importorskip("torch")
    from nst.config import config_to_dict
    from nst.export.onnx_export import export_checkpoint
    from nst.train.checkpoint import save_checkpoint
    from nst.train.models import build_model

    folder = tmp_path_factory.mktemp("families")
    paths = {}
    for family, config in FAMILIES.items():
        torch.manual_seed(0)
        net = build_model(family, config)
        ckpt = folder / f"{family}.pt"
        save_checkpoint(ckpt, {
            "family": family, "model_config": config_to_dict(net.config), "train_config": {},
            "styles": ["a", "b"], "state_dict": net.state_dict(), "optimizer": {}, "step": 0,
            "history": [], "rng": {},
        })  # fmt: skip
        paths[family] = export_checkpoint(ckpt, folder / f"{family}.onnx", validate=False).path
    return paths


def _feed_maker(path: Path) -> tuple[Any, Any]:
    runner = open_runner(path, providers="cpu")
    specs = runner.spec.inputs[1:]
    extra: dict[str, Any] = dict(noise_feeds(specs, None))
    if any(t.name == "style_weights" for t in specs):
        extra.update(style_feeds(runner.spec.inputs, runner.metadata.styles, style_weights=[0.3, 0.7]))
    if any(t.name == "style" for t in specs):
        extra["style"] = np.random.default_rng(1).random((1, 3, 32, 32), dtype=np.float32)

    def make_feed(h: int, w: int) -> dict[str, np.ndarray]:
        image = np.random.default_rng(h * w).random((1, 3, h, w), dtype=np.float32)
        return {runner.spec.inputs[0].name: image, **materialise(specs, extra, 1, h, w)}

    return runner, make_feed


def norm_count(path: Path) -> int:
    """How many InstanceNormalization nodes the ONNX graph at ``path`` has."""
    import onnx

    return sum(node.op_type == "InstanceNormalization" for node in onnx.load(str(path)).graph.node)


def test_bundled_model_in_strips_equals_one_pass_at_an_odd_size() -> None:
    photo = np.random.default_rng(0).random((301, 517, 3), dtype=np.float32)
    with Stylizer(tile="off") as one, Stylizer(tile=32, max_memory="2G") as tiled:
        reference = one.stylize_array(photo)
        assert tiled.planner.decide(517, 301).strip_rows == 32
        out = tiled.stylize_array(photo)
        model = tiled.planner.tiled_model()
    assert out.shape == reference.shape == (301, 517, 3)
    assert float(np.abs(out - reference).max()) < 1e-4
    norms = norm_count(default_model_path())  # one cut per norm layer
    assert norms > 0 and len(model.plan.norms) == norms and len(model.plan.segments) == norms + 1


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_with_instance_norm_tiles_exactly(family: str, family_models: dict[str, Path]) -> None:
    runner, make_feed = _feed_maker(family_models[family])
    height, width = (61, 77) if family == "sr" else (101, 133)
    feed = make_feed(height, width)
    reference = runner.infer(feed)[runner.spec.outputs[0].name][0].transpose(1, 2, 0)
    tiled = TiledModel(family_models[family], runner.spec, make_feed)
    out = tiled.stylize(feed, strip_rows=16)
    assert out.shape == reference.shape
    assert float(np.abs(out - reference).max()) < 1e-4


def _whole_image_max_model(path: Path) -> Path:
    """image / max|image| -> InstanceNorm -> Sigmoid: the whole-image scaling of style-swap's swap
    (``content.abs().amax(dim=(1, 2, 3))``, a ReduceMax over rows and columns in its export)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from nst.contract.metadata import ModelMetadata
    from nst.contract.spec import ExportSpec

    shape = ["batch", 3, "height", "width"]
    inits = [numpy_helper.from_array(np.ones(3, np.float32), "scale"),
             numpy_helper.from_array(np.zeros(3, np.float32), "bias"),
             numpy_helper.from_array(np.array([1, 2, 3], np.int64), "axes")]  # fmt: skip
    nodes = [helper.make_node("Abs", ["image"], ["abs"], name="abs"),
             helper.make_node("ReduceMax", ["abs", "axes"], ["peak"], name="peak", keepdims=1),
             helper.make_node("Div", ["image", "peak"], ["scaled"], name="scaled"),
             helper.make_node("InstanceNormalization", ["scaled", "scale", "bias"], ["norm"], name="in"),
             helper.make_node("Sigmoid", ["norm"], ["stylized"], name="out")]  # fmt: skip
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in ("image", "stylized")]
    graph = helper.make_graph(nodes, "swapmax", io[:1], io[1:], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    meta = ModelMetadata("styleswap", ("s",), ExportSpec(family="styleswap"), "0.1.0", {})
    for key, value in meta.to_props().items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


def test_row_mixing_ops_and_region_masks_are_refused_with_the_reason(
    tmp_path: Path, family_models: dict[str, Path]
) -> None:
    model = _whole_image_max_model(tmp_path / "swapmax.onnx")
    with Stylizer(model, tile="auto") as s:  # auto: a model that cannot be tiled runs in one pass
        assert s.planner.decide(2000, 1500).strip_rows == 0
    with (
        Stylizer(model, tile=16) as s,
        pytest.raises(
            TilingError,
            match=r"cannot tile this styleswap model: ReduceMax 'peak' reduces over image rows",
        ),
    ):
        s.stylize_array(np.zeros((64, 64, 3), np.float32))
    masks = np.zeros((2, 8, 8), np.float32)
    masks[0, :4], masks[1, 4:] = 1, 1
    with (
        Stylizer(family_models["stylebank"], tile=16, masks=masks) as s,
        pytest.raises(TilingError, match="region masks"),
    ):
        s.stylize_array(np.zeros((64, 64, 3), np.float32))


def test_thumbnail_statistics_run_and_stay_close(monkeypatch: pytest.MonkeyPatch) -> None:
    import nst.runtime.tiling as tiling

    monkeypatch.setattr(tiling, "THUMBNAIL_PIXELS", 20_000)  # a 3x smaller thumbnail
    yy, xx = np.mgrid[0:240, 0:320] / 320.0
    photo = np.stack([0.5 + 0.4 * np.sin(8 * xx), 0.5 + 0.4 * np.cos(6 * yy), 0.3 + 0.5 * xx], 2)
    with Stylizer(tile="off") as one, Stylizer(tile=64, tile_stats="thumbnail") as thumb:
        reference, out = (
            one.stylize_array(photo.astype(np.float32)),
            thumb.stylize_array(photo.astype(np.float32)),
        )
    diff = float(np.abs(out - reference).mean())
    assert 1e-4 < diff < 0.1  # approximate (URST reports the same order), unlike exact strips


def test_stats_model_export_takes_mean_and_variance(tmp_path: Path) -> None:
    import onnxruntime as ort

    target = export_stats_model(BUNDLED, tmp_path / "model.stats.onnx")
    with pytest.raises(OutputExistsError):
        export_stats_model(BUNDLED, target)
    runner, make_feed = _feed_maker(BUNDLED)
    feed = make_feed(64, 96)
    tiled = TiledModel(BUNDLED, runner.spec, make_feed)
    stats = tiled.thumbnail_stats(feed, tmp_path)  # under a megapixel: the image's own statistics
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    last = norm_count(BUNDLED) - 1
    assert names[0] == "image" and f"nst_in_mean_{last}" in names and "nst_in_var_0" in names
    assert f"nst_in_mean_{last + 1}" not in names
    stat_feed = {
        f"nst_in_{kind}_{k}": v[j] for k, v in stats.items() for j, kind in enumerate(("mean", "var"))
    }
    (out,) = session.run(None, {"image": feed["image"], **stat_feed})
    reference = runner.infer(feed)["stylized"]
    assert float(np.abs(out - reference).max()) < 1e-4


def test_budget_errors_name_the_fix() -> None:
    one_pass = r"in one pass, over --max-memory 4.0 GB; use --tile auto"
    with Stylizer(tile="off", max_memory="4G") as s, pytest.raises(MemoryBudgetError, match=one_pass):
        s.planner.decide(8000, 6000)
    with (
        Stylizer(tile="auto", max_memory="1G") as s,
        pytest.raises(MemoryBudgetError, match="even in strips"),
    ):
        s.planner.decide(20000, 20000)
    with (
        Stylizer(tile=4096, max_memory="2G") as s,
        pytest.raises(MemoryBudgetError, match="--tile 4096 needs"),
    ):
        s.planner.decide(8000, 6000)
    with Stylizer(tile="auto", max_memory="4G") as s:
        assert s.planner.decide(640, 480).strip_rows == 0  # small: one pass, no graph analysis
        big = s.planner.decide(8000, 6000)  # the 48 MP bar
        assert big.strip_rows >= 64 and big.strip_rows % 4 == 0 and big.estimate <= 4 * 2**30


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: parse_memory("lots"), "not a size"),
        (lambda: parse_memory("100M"), "must exceed"),
        (lambda: TileSetting.parse("big"), "--tile must be auto, off or"),
        (lambda: TileSetting.parse("8"), "--tile must be"),
        (lambda: Stylizer(tile_stats="fast"), "tile_stats must be"),
    ],
)
def test_bad_settings_are_input_errors(call: Any, match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()


def test_parse_memory_units() -> None:
    assert parse_memory("4G") == parse_memory("4GiB") == parse_memory("4 gb") == 4 * 2**30
    assert parse_memory("1536M") == 1536 * 2**20


def test_image_over_the_budget_is_refused_before_work(tmp_path: Path) -> None:
    from PIL import Image

    source = tmp_path / "big.png"
    Image.new("RGB", (3000, 3000), (90, 120, 150)).save(source)
    with Stylizer(max_memory="600M") as s, pytest.raises(MemoryBudgetError, match="3000x3000"):
        s.stylize_file(source, tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()


def test_a_style_choice_without_a_model_picks_the_multistyle_asset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nst.runtime.stylizer as stylizer

    assert default_model_path(multi_style=False).name == "default_model.onnx"
    (tmp_path / "default_model.onnx").write_bytes(b"")
    monkeypatch.setattr(stylizer.resources, "files", lambda _package: tmp_path)
    assert default_model_path(multi_style=True).name == "default_model.onnx"  # not shipped: as before
    (tmp_path / "multistyle_model.onnx").write_bytes(b"")
    assert default_model_path(multi_style=True) == tmp_path / "multistyle_model.onnx"
    assert default_model_path() == tmp_path / "default_model.onnx"


def test_tiling_errors_are_nst_errors() -> None:
    assert issubclass(TilingError, NstError) and issubclass(MemoryBudgetError, InputError)
