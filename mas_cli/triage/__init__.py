"""Loop analysis and shared-state validation over logs."""
