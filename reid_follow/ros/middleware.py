"""Middleware defaults applied by every reid_follow entry point before rclpy starts.

Fast DDS reads its environment when a participant is created, so setting variables here (only
where the user has not set them) makes every node, the runner, bag play and the tests use the
shared-memory-only profile.  Why these values: see config/fastdds-shm-only.xml.  The launch file
does not set anything process-wide (that would switch every other node of an including bringup,
a camera driver or Nav2, to SHM-only): it gives each of its nodes choice_env() as its own
environment.
"""
from __future__ import annotations

import enum
import os
import sys
import warnings
from collections.abc import Mapping
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


class Choice(enum.StrEnum):
    """What a user picks for the middleware (launch argument ``middleware_profile``, env
    ``REID_FOLLOW_MIDDLEWARE``); any other value is the path of a Fast DDS profile."""

    AUTO = "auto"      # a Fast DDS profile or another RMW the user exported wins; else SHM-only
    SHM = "shm"        # the SHM-only profile, even over an exported one
    SYSTEM = "system"  # the environment as it is: nothing set


CHOICE_VARIABLE = "REID_FOLLOW_MIDDLEWARE"


def choice_env(choice: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables to add to ``environ`` for ``choice`` (never applied here: the launch file
    gives them to each node's process, configure_middleware to this one)."""
    if choice == Choice.SYSTEM:
        return {}
    if choice == Choice.AUTO:
        rmw = environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
        if "FASTDDS_DEFAULT_PROFILES_FILE" in environ or rmw != "rmw_fastrtps_cpp":
            return {}  # the user's own profile or middleware wins, whole
        return middleware_env()
    if choice == Choice.SHM:
        return middleware_env()
    path = Path(choice).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"middleware profile not found: {path} (or use one of {[c.value for c in Choice]})")
    return {"RMW_IMPLEMENTATION": "rmw_fastrtps_cpp", "FASTDDS_DEFAULT_PROFILES_FILE": str(path.resolve())}


def configure_middleware() -> None:
    """Apply ``$REID_FOLLOW_MIDDLEWARE`` (default auto: SHM-only where the user set nothing) to this
    process; refuse the discovery range that re-adds UDP."""
    choice = os.environ.get(CHOICE_VARIABLE, Choice.AUTO)
    os.environ.update(choice_env(choice, os.environ))
    if choice != Choice.SYSTEM and os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "").upper() == "LOCALHOST":
        warnings.warn("ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST makes rmw_fastrtps add UDP transports "
                      "(sockets on every interface); reid_follow resets it to SYSTEM_DEFAULT.", stacklevel=2)
        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "SYSTEM_DEFAULT"
    if "AMENT_PREFIX_PATH" not in os.environ and (Path(sys.prefix) / "share" / "ament_index").is_dir():
        os.environ["AMENT_PREFIX_PATH"] = sys.prefix


UDP_BUFFER_BYTES = 4 * 1024 * 1024


def udp_peers_profile(local_address: str, peers: list[str]) -> str:
    """A Fast DDS profile for nodes on several computers: UDPv4, unicast locators on this computer's
    address, discovery by unicast to the named peers.  Write it to a file and point
    FASTDDS_DEFAULT_PROFILES_FILE (or the launch argument middleware_profile) at it on every computer,
    each with its own address and the others as peers; see ``reid-follow middleware``.

    Measured (Fast DDS 3.2, two network namespaces): the receive sockets still bind 0.0.0.0, and an
    interface allowlist (``<interfaces><allowlist>`` or ``<interfaceWhiteList>``) stopped discovery
    altogether, so none is set; use the robot's firewall to close other interfaces."""
    import ipaddress

    for address in [local_address, *peers]:
        ipaddress.IPv4Address(address)  # raises ValueError naming the bad address
    if not peers:
        raise ValueError("at least one peer address is needed")
    locator = "<locator><udpv4><address>{}</address></udpv4></locator>"
    peer_list = "".join(locator.format(p) for p in peers)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- reid_follow multi-computer profile: UDPv4 locators on {local_address}, discovery by unicast to the named
     peers ({", ".join(peers)}); written by the `reid-follow middleware` command -->
<dds xmlns="http://www.eprosima.com">
  <profiles>
    <transport_descriptors>
      <transport_descriptor>
        <transport_id>reid_follow_udp</transport_id>
        <type>UDPv4</type>
        <!-- a camera frame is ~15-45 datagrams; the OS default socket buffers drop some of them
             (the kernel caps these at net.core.rmem_max / wmem_max: raise those on the robot) -->
        <sendBufferSize>{UDP_BUFFER_BYTES}</sendBufferSize>
        <receiveBufferSize>{UDP_BUFFER_BYTES}</receiveBufferSize>
      </transport_descriptor>
    </transport_descriptors>
    <participant profile_name="reid_follow_udp_peers" is_default_profile="true">
      <rtps>
        <builtin>
          <metatrafficUnicastLocatorList>{locator.format(local_address)}</metatrafficUnicastLocatorList>
          <initialPeersList>{peer_list}</initialPeersList>
        </builtin>
        <defaultUnicastLocatorList>{locator.format(local_address)}</defaultUnicastLocatorList>
        <useBuiltinTransports>false</useBuiltinTransports>
        <userTransports><transport_id>reid_follow_udp</transport_id></userTransports>
      </rtps>
    </participant>
  </profiles>
</dds>
"""
