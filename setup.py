"""ament_python package: installs with colcon on ROS 2, and with pip into a plain venv."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "reid_follow"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml")),
    ],
    install_requires=["setuptools", "numpy", "scipy", "pyyaml", "tqdm", "matplotlib"],
    zip_safe=True,
    maintainer="reid_follow developers",
    maintainer_email="dev@reid-follow.invalid",
    description="Follow one enrolled person with re-identification, tracking and ROS 2 nodes.",
    license="Apache-2.0",
    # colcon test runs pytest when pytest is a "test" extra (setuptools dropped tests_require)
    extras_require={"test": ["pytest", "hypothesis"]},
    entry_points={
        "console_scripts": [
            "reid-follow = reid_follow.cli:main",
            "detector = reid_follow.ros.detector_node:main",
            "follower = reid_follow.ros.follower_node:main",
        ],
    },
)
