#!/usr/bin/env bash
# README command 1: set up, then replay real footage (PETS 2009 vtest.avi from Debian's opencv-doc)
# through the real detector and follower nodes, enroll through /enroll_target, write out/demo/.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/scripts/setup.sh"
cd "$REPO"
exec "${REID_FOLLOW_VENV:-$REPO/.venv}/bin/reid-follow" demo "$@"
