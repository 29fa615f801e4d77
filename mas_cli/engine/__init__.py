"""The orchestrator: scheduling, the agent loop, guards, shared state."""
