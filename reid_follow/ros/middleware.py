"""Middleware defaults applied by every reid_follow entry point before rclpy starts.

Fast DDS reads its environment when a participant is created, so setting variables here (only
where the user has not set them) makes every node, the runner, bag play and the tests use the
shared-memory-only profile.  Why these values: see config/fastdds-shm-only.xml.
"""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

PROFILE_NAME = "fastdds-shm-only.xml"


def profile_path() -> Path:
    """The shipped SHM-only Fast DDS profile (source tree, else the installed share directory)."""
    here = Path(__file__).resolve().parents[2] / "config" / PROFILE_NAME
    if here.is_file():
        return here
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("reid_follow")) / "config" / PROFILE_NAME


def middleware_env(domain_id: int | None = None) -> dict[str, str]:
    """Variables for an SHM-only Fast DDS participant (merged over os.environ by callers)."""
    env = {
        "RMW_IMPLEMENTATION": "rmw_fastrtps_cpp",
        "FASTDDS_DEFAULT_PROFILES_FILE": str(profile_path()),
        # Fallback if the XML cannot be read: SHM builtin transport (small segments, but no UDP).
        "FASTDDS_BUILTIN_TRANSPORTS": "SHM",
    }
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    return env


def configure_middleware() -> None:
    """Set the SHM-only defaults where unset; refuse the discovery range that re-adds UDP."""
    if "FASTDDS_DEFAULT_PROFILES_FILE" not in os.environ:  # the user's own profile wins, whole
        os.environ.update(middleware_env())
    os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    if os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "").upper() == "LOCALHOST":
        warnings.warn("ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST makes rmw_fastrtps add UDP transports "
                      "(sockets on every interface); reid_follow resets it to SYSTEM_DEFAULT.", stacklevel=2)
        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "SYSTEM_DEFAULT"
    if "AMENT_PREFIX_PATH" not in os.environ and (Path(sys.prefix) / "share" / "ament_index").is_dir():
        os.environ["AMENT_PREFIX_PATH"] = sys.prefix
