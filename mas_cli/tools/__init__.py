"""Tools agents call (Python functions, commands) and the deterministic-output cache."""
