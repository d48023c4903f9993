#!/usr/bin/env bash
# One idempotent set-up step for a fresh machine (both README commands run it first):
#   Debian packages (opencv-doc for the demo footage, cmake/g++ for vision_msgs), a venv with the
#   ROS 2 Kilted wheels, torch and the rest (requirements.txt), vision_msgs built from ros/ when no
#   ROS 2 install provides it, and reid_follow installed so ament_index finds its share directory.
# A second run with nothing changed checks a stamp and returns in about a second.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REID_FOLLOW_VENV:-$REPO/.venv}"
PY="$VENV/bin/python"
STAMP="$VENV/.reid_follow_setup"
t0=$SECONDS

inputs_hash() {
  cat "$REPO/requirements.txt" "$REPO/setup.py" "$REPO/setup.cfg" "$REPO/package.xml" \
      "$REPO/scripts/setup.sh" "$REPO"/ros/vision_msgs/msg/*.msg "$REPO/ros/vision_msgs/CMakeLists.txt" \
    | sha256sum | cut -d' ' -f1
}
HASH="$(inputs_hash)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$HASH" && -x "$PY" ]] && dpkg -s opencv-doc >/dev/null 2>&1; then
  echo "[setup] up to date ($VENV)"
  exit 0
fi

log() { echo "[setup $((SECONDS - t0))s] $*"; }

# --- Debian packages -------------------------------------------------------------------------
need_apt=()
dpkg -s opencv-doc >/dev/null 2>&1 || need_apt+=(opencv-doc)
command -v cmake >/dev/null || need_apt+=(cmake)
command -v g++ >/dev/null || need_apt+=(g++)
if ((${#need_apt[@]})); then
  log "apt-get install ${need_apt[*]}"
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- venv + wheels ---------------------------------------------------------------------------
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [[ ! -x "$PY" ]]; then
  "$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), "the ROS 2 Kilted wheels need Python 3.11"'
  log "creating venv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
log "pip install -r requirements.txt"
"$PY" -m pip install -q --disable-pip-version-check -r "$REPO/requirements.txt" 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
"$PY" -c 'import rclpy, torch, torchvision, cv2, onnxruntime, rosbags' \
  || { echo "[setup] the venv is incomplete: see the pip output above" >&2; exit 1; }

# --- vision_msgs (not on PyPI) ---------------------------------------------------------------
export AMENT_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"
if ! "$PY" -c 'from vision_msgs.msg import Detection2DArray' 2>/dev/null; then
  log "building vision_msgs from ros/vision_msgs"
  PYINC=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  NPINC=$("$PY" -c 'import numpy; print(numpy.get_include())')
  # The wheels carry their build host's Python/numpy include paths in their cmake exports.
  { grep -rl /opt/python/cp311-cp311 "$VENV/share" --include='*.cmake' || true; } | xargs -r sed -i \
    -e "s#/opt/python/cp311-cp311/include/python3.11#$PYINC#g" \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$NPINC#g"
  BUILD="$REPO/build/vision_msgs" LOG="$REPO/build/vision_msgs.log"
  rm -rf "$BUILD"; mkdir -p "$BUILD"
  cmake -S "$REPO/ros/vision_msgs" -B "$BUILD" -DCMAKE_INSTALL_PREFIX="$VENV" -DCMAKE_PREFIX_PATH="$VENV" \
    -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release >"$LOG" 2>&1 \
    || { tail -30 "$LOG"; exit 1; }
  cmake --build "$BUILD" -j"$(nproc)" >>"$LOG" 2>&1 || { tail -30 "$LOG"; exit 1; }
  cmake --install "$BUILD" >>"$LOG" 2>&1
  "$PY" -c 'from vision_msgs.msg import Detection2DArray'
fi

# --- reid_follow itself ----------------------------------------------------------------------
# Editable, so the checkout is live; PEP 660 editable installs skip data_files, so the ament
# index marker and the share directory (-> the checkout: launch/, config/, package.xml) are added.
log "installing reid_follow (editable)"
"$PY" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$REPO" 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
mkdir -p "$VENV/share/ament_index/resource_index/packages"
touch "$VENV/share/ament_index/resource_index/packages/reid_follow"
ln -sfn "$REPO" "$VENV/share/reid_follow"
# ros2 run / ros2 launch look for executables in <prefix>/lib/<package> (what colcon installs via
# setup.cfg); an editable pip install puts them in bin/ only, so link each console script there.
mkdir -p "$VENV/lib/reid_follow"
"$PY" - "$VENV" <<'PYEOF'
import importlib.metadata, os, sys
venv = sys.argv[1]
for ep in importlib.metadata.distribution("reid_follow").entry_points:
    if ep.group == "console_scripts":
        link = os.path.join(venv, "lib", "reid_follow", ep.name)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.path.join("..", "..", "bin", ep.name), link)
PYEOF
"$PY" -c 'from ament_index_python.packages import get_package_share_directory as g; import os; assert os.path.isfile(os.path.join(g("reid_follow"), "config", "follow.yaml"))'

echo "$HASH" >"$STAMP"
log "done"
