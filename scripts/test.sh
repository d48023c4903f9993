#!/usr/bin/env bash
# README command 2 (and CI's): set up, then run the test suite. Extra arguments go to pytest
# (e.g. -m "not slow").
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/scripts/setup.sh"
cd "$REPO"
export ROS_LOG_DIR="${TMPDIR:-/tmp}/reid_follow_test_logs" PYTHONUNBUFFERED=1
exec "${REID_FOLLOW_VENV:-$REPO/.venv}/bin/python" -m pytest -q -ra --durations=15 "$@"
