"""Multi-person tracking: Kalman motion model, camera-motion compensation, fused association."""
