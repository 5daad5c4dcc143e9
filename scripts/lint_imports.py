"""Run import-linter on nst as it is installed: one ``nst`` tree, subpackages in place.

nst's subpackages live in top-level folders mapped by setuptools' ``package-dir`` (see
pyproject), which import-linter cannot see: it walks the root package's folder. This script
copies every ``.py`` file into ``build/import-graph/nst/...`` by that mapping and runs
``lint-imports`` (contracts in pyproject) with that tree first on the path.

    python scripts/lint_imports.py            # what `make lint` runs
    python scripts/lint_imports.py --tree DIR # build the tree only (tests inject a bad import)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def build_tree(dest: Path) -> Path:
    """Copy the package's modules into ``dest/nst/...`` as an installed wheel lays them out."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    if dest.exists():
        shutil.rmtree(dest)
    for package, folder in sorted(mapping.items()):
        target = dest.joinpath(*package.split("."))
        for src in (ROOT / folder).rglob("*.py"):
            rel = src.relative_to(ROOT / folder)
            # a mapped subpackage is copied from its own folder, not again from its parent's
            if package == "nst" and rel.parts[0] in {k.split(".")[1] for k in mapping if k != "nst"}:
                continue
            if any(part in {"cpp", "__pycache__"} for part in rel.parts):
                continue
            out = target / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, out)
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT / "build" / "import-graph")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    tree = build_tree(args.tree)
    if args.build_only:
        return 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])}
    lint = Path(sys.executable).with_name("lint-imports")
    cmd = [str(lint), str(ROOT / "pyproject.toml"), "--no-cache"]
    return subprocess.call(cmd, cwd=tree, env=env)


if __name__ == "__main__":
    sys.exit(main())
