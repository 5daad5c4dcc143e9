"""Runtime: Runner backends and the user-facing Stylizer."""
