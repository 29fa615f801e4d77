"""Context windows of common models, for projecting when a growing history overflows."""

from __future__ import annotations

DEFAULT_WINDOW = 128_000
# Longest prefix wins; any other model gets DEFAULT_WINDOW (or --threshold context_window=N).
WINDOWS = {
    "gpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4-turbo": 128_000,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 16_385,
    "gpt-5": 400_000,
    "o1": 200_000,
    "o3": 200_000,
    "o4": 200_000,
    "claude": 200_000,
    "gemini-1.5": 1_048_576,
    "gemini-2": 1_048_576,
}


def context_window(model: str) -> int:
    """The context window of a model, by the longest known prefix of its name."""
    name = model.lower().rsplit("/", 1)[-1]
    matches = [prefix for prefix in WINDOWS if name.startswith(prefix)]
    return WINDOWS[max(matches, key=len)] if matches else DEFAULT_WINDOW
