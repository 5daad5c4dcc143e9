"""``nst batch`` on real Ray over a 20-image folder, against ``nst stylize``.

The corpus mixes sizes, an RGBA PNG, a 16-bit PNG, an EXIF-rotated JPEG and a grayscale
image, so nst's own reader and writer are what the actors use. One run starts its own local
Ray (``--ray-address local``); the others connect to a 2-CPU head node started once for the
module (Ray's ``cluster_utils.Cluster``: separate processes, reached by address as a cluster
is); every test that needs no Ray runs without it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import nst.cli.main  # noqa: F401  (the other commands: typer collapses a one-command app)
from nst.cli import batch_cmd  # noqa: F401  (registers `nst batch`)
from nst.cli.app import app
from nst.errors import MissingDependencyError, ModelError, NstError
from nst.runtime.batch_ray import BatchOptions, _error, _StylizeActor, batch_stylize
from nst.runtime.stylize_job import StylizeOptions, stylize
from nst.runtime.stylizer import default_model_path

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")
cli = CliRunner()
SIZES = [(64, 64), (48, 80), (33, 47), (40, 40)]


def make_corpus(folder: Path, n: int = 20) -> Path:
    """``n`` small images of mixed sizes and kinds (RGBA, 16-bit, EXIF-rotated, grayscale)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        h, w = SIZES[i % len(SIZES)]
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        if i == 1:
            alpha = np.linspace(0, 255, w, dtype=np.uint8)[None].repeat(h, 0)
            Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(folder / f"img{i:02d}.png")
        elif i == 2:
            Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16)).save(folder / f"img{i:02d}.png")
        elif i == 5:
            exif = Image.Exif()
            exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
            Image.fromarray(rgb).save(folder / f"img{i:02d}.jpg", exif=exif, quality=95)
        elif i == 4:
            Image.fromarray(rgb[:, :, 0], "L").save(folder / f"img{i:02d}.png")
        else:
            Image.fromarray(rgb).save(folder / f"img{i:02d}.png")
    return folder


# `nst batch` in its own process, as a user runs it (Ray Data 2.60 cannot connect a process to a
# cluster once a local Ray it started was shut down, so the local run stays out of this process).
MAIN = "import nst.cli.main, nst.cli.batch_cmd; from nst.cli.app import app; app()"


def invoke(*args: str) -> tuple[int, str, str]:
    result = cli.invoke(app, ["batch", *args, "--no-progress"])
    return result.exit_code, result.stdout, result.stderr


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im).astype(np.int16)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A real 2-CPU Ray head node in its own processes (Ray's test cluster); yields its address."""
    pytest.importorskip("ray", reason="nst batch needs the ray extra: pip install 'ray[data]'")
    pytest.importorskip("ray.data")
    from ray.cluster_utils import Cluster

    head = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    yield str(head.address)
    head.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("batch") / "photos")


@pytest.fixture(scope="module")
def reference(corpus: Path) -> Path:
    """The same folder through ``nst stylize`` (the same batch size)."""
    out = corpus.parent / "stylized"
    stylize(StylizeOptions((corpus,), out, batch_size=4))
    return out


def test_outputs_equal_nst_stylize_names_kept_and_never_clobbered(
    cluster: str, corpus: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["--actors", "2", "--batch-size", "4", "--ray-address", "local"]  # fmt: skip  # a new local Ray
    run = subprocess.run([sys.executable, "-c", MAIN, "batch", str(corpus), "-o", str(out), *args],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    stdout = run.stdout
    assert stdout.startswith("stylized 20 image(s) with default_model.onnx [CPUExecutionProvider] on 2 Ray")
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in reference.iterdir())
    identical = 0
    for ref in sorted(reference.iterdir()):
        got, want = pixels(out / ref.name), pixels(ref)
        assert got.shape == want.shape, ref.name
        assert np.abs(got - want).max() <= 1, ref.name  # within 1/255
        identical += (out / ref.name).read_bytes() == ref.read_bytes()
    assert identical >= 18, identical  # in practice all 20: the same reader, model, batching and writer
    with Image.open(out / "img01.png") as im:
        assert im.mode == "RGBA"  # the alpha came back
    with Image.open(out / "img05.png") as im:
        assert im.size == (48, 80)  # EXIF orientation applied: the 80x48 JPEG stands upright

    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    code, stdout, stderr = invoke(str(corpus), "-o", str(out))
    assert code == 1 and stderr.startswith("error: ") and "exists" in stderr and stderr.count("\n") == 1
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # checked before any work

    (out / "img06.png").unlink()
    (out / "img07.png").unlink()
    code, stdout, stderr = invoke(
        str(corpus), "-o", str(out), "--resume", "--actors", "1", "--ray-address", cluster
    )
    assert code == 0, stdout + stderr
    assert "stylized 2 image(s)" in stdout and "18 already there" in stdout
    assert (out / "img06.png").read_bytes() == (reference / "img06.png").read_bytes()
    assert all(
        before[n] == (out / n).stat().st_mtime_ns for n in before if n not in ("img06.png", "img07.png")
    )


def test_force_overwrites(cluster: str, corpus: Path, tmp_path: Path) -> None:
    files = tmp_path / "few"
    files.mkdir()
    for name in ("img00.png", "img01.png"):
        shutil.copy(corpus / name, files / name)
    out = tmp_path / "out"
    out.mkdir()
    (out / "img00.png").write_bytes(b"old")
    result = batch_stylize(
        BatchOptions(StylizeOptions((files,), out, force=True), actors=1, ray_address=cluster)
    )
    assert sorted(p.name for p in result.written) == ["img00.png", "img01.png"]
    assert pixels(out / "img00.png").shape == (64, 64, 3)


def test_unusable_images_are_skipped_and_reported(cluster: str, corpus: Path, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for name in ("img00.png", "img06.png", "img07.png"):
        shutil.copy(corpus / name, mixed / name)
    (mixed / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(mixed / "tiny.png")
    out = tmp_path / "out"
    code, stdout, stderr = invoke(
        str(mixed), "-o", str(out), "--actors", "2", "--batch-size", "2", "--ray-address", cluster
    )
    assert code == 1, stdout + stderr
    assert "stylized 3 image(s)" in stdout and "skipped 2 unusable image(s)" in stdout
    lines = sorted(stderr.splitlines(), key=lambda line: "tiny.png" in line)
    assert len(lines) == 2 and all(line.startswith("skipped: ") for line in lines)
    assert "cannot read image" in lines[0] and "corrupt.jpg" in lines[0]
    assert "tiny.png: image 8x8 is too small" in lines[1]
    assert sorted(p.name for p in out.iterdir()) == ["img00.png", "img06.png", "img07.png"]


def test_pool_that_does_not_fit_is_an_error(cluster: str, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, stderr = invoke(
        str(corpus), "-o", str(out), "--actors", "2", "--cpus-per-actor", "2", "--ray-address", cluster
    )
    assert code == 1 and "do not fit the Ray cluster (2 CPU, 0 GPU)" in stderr and stderr.count("\n") == 1
    assert not out.exists()


def test_errors_before_ray_starts(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cases = [
        (("--actors", "0"), "--actors must be >= 1"),
        (("--force", "--resume"), "give one"),
        (("--style", "2"), "style"),  # the bundled model has one style: checked on the driver
    ]
    if _has_ray():  # else: the missing-ray error comes first
        cases.append(
            (("--ray-address", f"127.0.0.1:{_closed_port()}"), "cannot reach a Ray cluster at 127.0.0.1:")
        )
    for extra, message in cases:
        code, _, stderr = invoke(str(corpus), "-o", str(out), *extra)
        assert code == 1 and stderr.startswith("error: ") and message in stderr, (extra, stderr)
        assert stderr.count("\n") == 1
    assert not out.exists()


def test_actor_errors_come_back_as_their_nst_error(tmp_path: Path, corpus: Path) -> None:
    """An actor returns its NstError as a ``fatal`` row (no Ray traceback); the driver re-raises it."""
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    actor = _StylizeActor(StylizeOptions((), tmp_path, model=broken), {})
    rows = actor(
        {"source": np.array([str(corpus / "img00.png")]), "target": np.array([str(tmp_path / "a.png")])}
    )
    assert (
        rows["status"] == ["fatal"]
        and rows["error"] == ["ModelError"]
        and "cannot load" in rows["message"][0]
    )
    assert isinstance(_error("ModelError", "x"), ModelError)
    assert type(_error("NotAnNstName", "x")) is NstError

    target = tmp_path / "a.png"
    target.write_bytes(b"appeared after planning")
    actor = _StylizeActor(StylizeOptions((), tmp_path, model=default_model_path()), {"threads": 1})
    rows = actor({"source": np.array([str(corpus / "img00.png")]), "target": np.array([str(target)])})
    assert rows["status"] == ["fatal"] and rows["error"] == ["OutputExistsError"]
    assert target.read_bytes() == b"appeared after planning"


def test_missing_ray_is_one_line(monkeypatch: pytest.MonkeyPatch, corpus: Path, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'nst\[ray\]'"):
        batch_stylize(BatchOptions(StylizeOptions((corpus,), tmp_path / "out")))
    assert not (tmp_path / "out").exists()


def test_importing_the_runtime_and_cli_does_not_import_ray() -> None:
    code = "import sys, nst.runtime.batch_ray, nst.cli.batch_cmd; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def _has_ray() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
