"""reid_follow: follow one enrolled person with re-identification, tracking and ROS 2 nodes."""

__version__ = "0.1.0"
