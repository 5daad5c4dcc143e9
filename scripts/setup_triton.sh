#!/usr/bin/env bash
# A real Triton Inference Server (python backend only) for tests/export/test_triton*.py.
#
#   scripts/setup_triton.sh [DEST]        # default build/triton; idempotent (a stamp skips a done setup)
#
# The nvidia-pytriton wheel (PyPI) ships a real `tritonserver` (2.51) with the python backend and
# one python-backend stub per CPython 3.8-3.13. This script makes DEST/venv from the system python
# (the stub embeds that python's libpython, so the venv must come from it), installs into it
# numpy<2 (the stub's requirement), onnxruntime (the project venv's version where there is one) and
# pillow, then nvidia-pytriton itself with --no-deps (only its binaries are used), makes the
# binaries executable, puts the stub for this python beside the python backend and writes
# DEST/env.json for the tests. nst itself is not installed there: the tests put an `nst` tree
# (scripts/lint_imports.py build_tree) on the server's PYTHONPATH (read back by a .pth file, since the
# stub's interpreter ignores the variable), so the server always runs the working tree's nst.
#
# Environment: TRITON_PYTHON (default python3; needs a shared libpython, 3.8-3.13).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=${1:-$ROOT/build/triton}
mkdir -p "$DEST" && DEST=$(cd "$DEST" && pwd)  # absolute: env.json paths are used from other folders
PYTHON=${TRITON_PYTHON:-python3}
PYTRITON_VERSION=0.7.0
NUMPY_SPEC='numpy>=1.24,<2'
PILLOW_SPEC='pillow>=10.0'

start=$(date +%s)
py_info=$("$PYTHON" -c 'import sys, sysconfig
print(sys.executable, "%d.%d" % sys.version_info[:2], sysconfig.get_config_var("Py_ENABLE_SHARED") or 0,
      sysconfig.get_config_var("LIBDIR"))')
read -r PY_EXE PY_VER PY_SHARED PY_LIBDIR <<<"$py_info"
if [[ $PY_SHARED != 1 ]]; then
    echo "error: $PY_EXE has no shared libpython; the Triton python backend stub needs one (TRITON_PYTHON=...)" >&2
    exit 1
fi
case $PY_VER in 3.8 | 3.9 | 3.10 | 3.11 | 3.12 | 3.13) ;;
*) echo "error: python $PY_VER has no Triton python backend stub (3.8-3.13); set TRITON_PYTHON" >&2; exit 1 ;;
esac

ORT_VERSION=$("$ROOT/.venv/bin/python" -c 'import onnxruntime; print(onnxruntime.__version__)' 2>/dev/null || true)
ORT_SPEC=${ORT_VERSION:+onnxruntime==$ORT_VERSION}
ORT_SPEC=${ORT_SPEC:-onnxruntime>=1.17}
STAMP="3 nvidia-pytriton==$PYTRITON_VERSION $NUMPY_SPEC $ORT_SPEC $PILLOW_SPEC $PY_EXE $PY_VER"

if [[ -f $DEST/.ready && $(cat "$DEST/.ready") == "$STAMP" && -f $DEST/env.json ]]; then
    echo "triton: up to date in $DEST ($STAMP)"
    exit 0
fi

rm -f "$DEST/.ready"
mkdir -p "$DEST"
if [[ ! -x $DEST/venv/bin/python ]] || ! "$DEST/venv/bin/python" -c 'import sys; sys.exit(0)' 2>/dev/null; then
    rm -rf "$DEST/venv"
    "$PY_EXE" -m venv "$DEST/venv"
fi
VPY=$DEST/venv/bin/python
"$VPY" -m pip install -q --disable-pip-version-check "$NUMPY_SPEC" "$ORT_SPEC" "$PILLOW_SPEC"
pip_start=$(date +%s)
"$VPY" -m pip install -q --disable-pip-version-check --no-deps "nvidia-pytriton==$PYTRITON_VERSION"
pip_seconds=$(($(date +%s) - pip_start))

SITE=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
TRITON=$SITE/pytriton/tritonserver
STUB=$TRITON/python_backend_stubs/$PY_VER/triton_python_backend_stub
[[ -f $TRITON/bin/tritonserver && -f $STUB ]] || {
    echo "error: nvidia-pytriton $PYTRITON_VERSION has no tritonserver or stub for python $PY_VER" >&2
    exit 1
}
# Wheels may carry no exec bits; the stub runs from the python backend's folder.
chmod +x "$TRITON/bin/tritonserver" "$STUB"
cp -f "$STUB" "$TRITON/backends/python/triton_python_backend_stub"
chmod +x "$TRITON/backends/python/triton_python_backend_stub"

# The stub's embedded interpreter ignores PYTHONPATH (it runs isolated from the environment);
# this .pth puts PYTHONPATH's entries back in front, so the tests can point it at an nst tree.
cat >"$SITE/pythonpath_from_env.pth" <<'PTH'
import os, sys; sys.path[0:0] = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p not in sys.path]
PTH

wheel_mb=$(du -sm "$SITE/pytriton" "$SITE/nvidia_pytriton.libs" | awk '{s += $1} END {print s}')
"$VPY" - "$DEST/env.json" <<EOF
import json, sys
import numpy, onnxruntime
json.dump({
    "tritonserver": "$TRITON/bin/tritonserver",
    "backend_directory": "$TRITON/backends",
    "python_bin": "$DEST/venv/bin",
    "python_libdir": "$PY_LIBDIR",
    "python_version": "$PY_VER",
    "pytriton_version": "$PYTRITON_VERSION",
    "numpy_version": numpy.__version__,
    "onnxruntime_version": onnxruntime.__version__,
    "installed_mb": $wheel_mb,
    "pytriton_install_seconds": $pip_seconds,
}, open(sys.argv[1], "w"), indent=2)
EOF
echo "$STAMP" >"$DEST/.ready"
echo "triton: ready in $DEST in $(($(date +%s) - start))s (nvidia-pytriton $PYTRITON_VERSION: ${wheel_mb} MB installed in ${pip_seconds}s; python $PY_VER, $ORT_SPEC)"
