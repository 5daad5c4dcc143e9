#!/usr/bin/env bash
# Fetch the C++ runtime's third-party parts into a cache folder (default build/third_party):
#
#   onnxruntime-1.31.1/lib/      libonnxruntime.so.1.31.1 from the PyPI onnxruntime wheel, plus the
#                                libonnxruntime.so.1 / .so links (the wheel ships only the full name)
#   debian/usr/include/          headers from Debian trixie, never installed: libonnxruntime-dev
#                                (ONNX Runtime 1.21 C/C++ API headers; older headers than the
#                                library are fine, the C API is versioned), libstb-dev
#                                (stb_image, stb_image_write), nlohmann-json3-dev (json.hpp)
#
# The .deb files come from `apt-get download` with a PRIVATE apt configuration (own sources.list
# naming this machine's Debian mirror with the suite trixie, own state and cache folders), so the
# system's sources, package lists and installed packages are never touched and root is not needed.
# Idempotent: each part is skipped when its stamp file exists. Usage:
#
#   scripts/get_onnxruntime.sh [CACHE_DIR]        (PYTHON=... picks the pip used; default python3)
set -euo pipefail

ORT_VERSION=1.31.1
ORT_API_MAX=${ORT_VERSION#1.}; ORT_API_MAX=${ORT_API_MAX%%.*}   # headers must not be newer (31)
DEBS=(libonnxruntime-dev libstb-dev nlohmann-json3-dev)
CACHE=$(mkdir -p "${1:-build/third_party}" && cd "${1:-build/third_party}" && pwd)
PYTHON=${PYTHON:-python3}

log() { echo "get_onnxruntime: $*" >&2; }

# The machine's own Debian mirror: the first */debian URI in the apt sources (one-line or deb822).
debian_mirror() {
    local uri
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
        2>/dev/null | grep -v '^\s*#' | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n1 | tr -d ' ')
    echo "${uri:-http://deb.debian.org/debian}"
}

fetch_library() {
    local dest=$CACHE/onnxruntime-$ORT_VERSION lib=libonnxruntime.so.$ORT_VERSION
    [[ -f $dest/.complete ]] && return 0
    log "downloading onnxruntime==$ORT_VERSION wheel from PyPI"
    rm -rf "$dest" "$CACHE/wheel" && mkdir -p "$dest/lib" "$CACHE/wheel"
    "$PYTHON" -m pip download -q "onnxruntime==$ORT_VERSION" --no-deps --only-binary=:all: \
        -d "$CACHE/wheel"
    local wheel
    wheel=$(ls "$CACHE"/wheel/onnxruntime-"$ORT_VERSION"-*.whl | head -n1)
    "$PYTHON" - "$wheel" "$dest" "$lib" <<'EOF'
import sys, zipfile
from pathlib import Path
wheel, dest, lib = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
wanted = {f"onnxruntime/capi/{lib}": dest / "lib" / lib, "onnxruntime/LICENSE": dest / "LICENSE",
          "onnxruntime/ThirdPartyNotices.txt": dest / "ThirdPartyNotices.txt"}
with zipfile.ZipFile(wheel) as zf:
    names = set(zf.namelist())
    missing = [n for n in wanted if n not in names]
    if missing:
        sys.exit(f"{wheel} lacks {missing}")
    for name, target in wanted.items():
        target.write_bytes(zf.read(name))
(dest / "lib" / lib).chmod(0o755)
EOF
    ln -sf "$lib" "$dest/lib/libonnxruntime.so.1"
    ln -sf libonnxruntime.so.1 "$dest/lib/libonnxruntime.so"
    rm -rf "$CACHE/wheel"
    touch "$dest/.complete"
}

fetch_headers() {
    local dest=$CACHE/debian apt=$CACHE/apt
    [[ -f $dest/.complete ]] && return 0
    local mirror
    mirror=$(debian_mirror)
    log "downloading ${DEBS[*]} from $mirror trixie (private apt config, nothing installed)"
    rm -rf "$dest" "$apt" && mkdir -p "$dest" "$apt/state/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
        >"$apt/sources.list"
    local opts=(-q -o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=-"
        -o "Dir::State=$apt/state" -o "Dir::State::status=/dev/null" -o "Dir::Cache=$apt/cache"
        -o "APT::Sandbox::User=$(id -un)")
    apt-get "${opts[@]}" update >/dev/null
    (cd "$apt/debs" && apt-get "${opts[@]}" download "${DEBS[@]}" >/dev/null)
    for deb in "$apt"/debs/*.deb; do
        dpkg-deb -x "$deb" "$dest"
        log "extracted $(basename "$deb")"
    done
    local api
    api=$(grep -oE '^#define ORT_API_VERSION [0-9]+' "$dest/usr/include/onnxruntime/onnxruntime_c_api.h" |
        awk '{print $3}')
    if ((api > ORT_API_MAX)); then
        log "headers have ORT_API_VERSION $api, newer than the library $ORT_VERSION; refusing"
        exit 1
    fi
    rm -rf "$apt"   # the trixie package lists (~20 MB) are not needed once the headers are out
    touch "$dest/.complete"
}

fetch_library
fetch_headers
echo "$CACHE"
