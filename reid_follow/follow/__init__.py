"""Target following: enrollment, gallery, re-acquisition, state machine (no rclpy)."""
