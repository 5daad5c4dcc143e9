import json
from pathlib import Path

import pytest

from nst.bench.eval_report import markdown
from nst.bench.evaluate import EvalReport, ImageScore, MethodScore, evaluate_model
from nst.errors import InputError, OutputExistsError


def test_evaluate_tiny_model_writes_report_and_reuses_gatys(
    tiny_onnx: Path, content_dir: Path, style_image: Path, vgg_weights: Path, tmp_path: Path
) -> None:
    out, cache = tmp_path / "report", tmp_path / "cache"
    kwargs: dict = dict(size=32, iters=(2, 1), limit=2, vgg_weights=vgg_weights, gatys_cache=cache)
    kwargs["progress"] = False
    report = evaluate_model(tiny_onnx, content_dir, style_image, out, **kwargs)
    assert report.iters == [1, 2] and report.methods == ["model", "gatys-1", "gatys-2"]
    assert [i.name for i in report.images] == ["img00.png", "img01.png"]
    assert (report.images[0].width, report.images[0].height) == (43, 32)
    assert report.objective_source == "model metadata nst.train_config"
    assert report.objective["style_weight"] == 2.0 and report.objective["style_size"] == 48
    for image in report.images:
        scores = {s.method: s for s in image.scores}
        assert scores["gatys-2"].losses["total"] <= scores["gatys-1"].losses["total"]
        assert scores["model"].seconds > 0 and not scores["gatys-2"].cached
        assert scores["model"].losses["total"] == pytest.approx(
            sum(scores["model"].losses[k] for k in ("content", "style", "tv")), rel=1e-5
        )
    data = json.loads((out / "report.json").read_text())
    assert data["summary"]["means"]["model"]["total"] == pytest.approx(report.mean("model"))
    assert "target" not in data["summary"]
    text = (out / "report.md").read_text()
    assert "| gatys-2 |" in text and "Target: not checked" in text and "--limit 2" in text
    assert (out / "grid.png").stat().st_size > 0

    with pytest.raises(OutputExistsError, match=r"report\.json already exists; use --force"):
        evaluate_model(tiny_onnx, content_dir, style_image, out, **kwargs)
    again = evaluate_model(tiny_onnx, content_dir, style_image, out, force=True, **kwargs)
    first, second = report.images[0].scores[2], again.images[0].scores[2]
    assert second.cached and second.losses == first.losses and second.seconds == first.seconds


def fake_report(model_total: float, model_s: float, tmp_path: Path) -> EvalReport:
    def score(method: str, total: float, seconds: float) -> MethodScore:
        losses = {"content": total / 2, "style": total / 2, "tv": 0.0, "total": total}
        return MethodScore(method, losses, seconds)

    scores = [score("model", model_total, model_s), score("gatys-50", 3.0, 50.0),
              score("gatys-100", 2.0, 100.0)]  # fmt: skip
    return EvalReport("m.onnx", "s.png", "photos", 256, None, [50, 100], {"style_weight": 2.0}, "test",
                      [ImageScore("a.png", 384, 256, scores)], {"cpu": "x", "cores": 2,
                      "torch": "t", "threads": 2, "onnxruntime": "o"}, tmp_path)  # fmt: skip


def test_target_is_loss_within_1_5x_of_gatys_100_at_100x_less_time(tmp_path: Path) -> None:
    met = fake_report(2.9, 0.5, tmp_path).summary()["target"]
    assert met["loss_ratio"] == pytest.approx(1.45) and met["speedup"] == pytest.approx(200.0) and met["met"]
    assert not fake_report(3.2, 0.5, tmp_path).summary()["target"]["met"]  # loss too high
    assert not fake_report(2.0, 2.0, tmp_path).summary()["target"]["met"]  # too slow
    text = markdown(fake_report(3.2, 0.5, tmp_path))
    assert "**missed**: loss ratio 1.600 (target <= 1.5), speed-up 200x (target >= 100x)" in text
    assert "| gatys-100 | 1 | 1 | 0 | 2 | 1 | 100.0 s | 200x |" in text


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"iters": (0, 5)}, InputError, "Gatys iterations must be positive integers"),
        ({"size": 8}, InputError, "size must be >= 32, got 8"),
        ({"limit": 0}, InputError, "limit must be >= 1, got 0"),
    ],
)
def test_bad_arguments_fail_before_any_work(
    kwargs: dict, error: type[Exception], message: str, tmp_path: Path
) -> None:
    with pytest.raises(error, match=message):
        evaluate_model(tmp_path / "none.onnx", tmp_path, tmp_path / "s.png", tmp_path / "out", **kwargs)


def test_output_that_is_a_file_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    with pytest.raises(InputError, match="is a file; give a folder for the report"):
        evaluate_model(tmp_path / "none.onnx", tmp_path, tmp_path / "s.png", tmp_path / "out")
