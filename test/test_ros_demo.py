"""`reid-follow demo` as the README runs it (on a short real clip): its last line says how many frames
the detector and the follower processed, and with stamp pairing the follower gets every frame the
detector processed (34 of 300 frames when pairing counted messages)."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from rosutil import LOG_DIR, scaled

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_demo_line_reports_the_frames_the_follower_processed(tmp_path, mot16_05):
    import os

    out = tmp_path / "demo"
    run = subprocess.run([sys.executable, "-m", "reid_follow.cli", "demo", "--video", str(mot16_05), "--out", str(out),
                          "--max-frames", "30", "--rate", "0.25", "--enroll-after", "2"],
                         env={**os.environ, "ROS_LOG_DIR": LOG_DIR}, capture_output=True, text=True,
                         timeout=scaled(300))
    assert "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr
    last = run.stdout.strip().splitlines()[-1]
    m = re.match(r"demo: (\d+) frames replayed, the detector processed (\d+) and the follower (\d+) of them", last)
    assert m, last
    published, detected, followed = map(int, m.groups())
    summary = json.loads((out / "summary.json").read_text())
    assert (published, detected, followed) == (summary["frames_published"], summary["frames_detected"],
                                               summary["frames_followed"])
    assert published == 30 and 0 < detected <= published
    # every detection array is paired with its image (at most one lost to a busy follower on a loaded machine)
    assert detected - 1 <= followed <= detected, last
    assert run.returncode == 0 and summary["enrolled"], last
