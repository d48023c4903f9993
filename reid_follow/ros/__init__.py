"""rclpy nodes and middleware glue: messages <-> numpy, parameters, QoS; no logic of their own."""
