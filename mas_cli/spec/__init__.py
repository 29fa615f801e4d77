"""The crew file: pydantic models, YAML loading with file:line:col errors, cross-checks."""
