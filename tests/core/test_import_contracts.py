"""The import contracts in pyproject (``lint-imports``) hold, and a forbidden import breaks them."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")
pytestmark = pytest.mark.skipif(shutil.which(str(LINT)) is None, reason="import-linter is not installed")


def _script() -> object:
    spec = importlib.util.spec_from_file_location("lint_imports", ROOT / "scripts" / "lint_imports.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT), str(ROOT / "pyproject.toml"), "--no-cache"], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("runtime/base.py", "import nst.train.losses", "runtime imports neither train"),
        ("train/loop.py", "import nst.runtime.registry", "train imports neither export"),
        ("contract/spec.py", "import torch", "nst.contract is torch-free"),
        ("calibration/fp16.py", "import nst.bench.run", "calibration imports neither train, bench"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    tree = _script().build_tree(tmp_path / "tree")  # type: ignore[attr-defined]
    target = tree / "nst" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    result = _lint(tree)
    assert result.returncode != 0, result.stdout
    broken = [ln for ln in result.stdout.splitlines() if "BROKEN" in ln]
    assert any(contract in ln for ln in broken), result.stdout


def test_the_tree_as_committed_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint(_script().build_tree(tmp_path / "tree"))  # type: ignore[attr-defined]
    assert result.returncode == 0, result.stdout
    assert "0 broken" in result.stdout
