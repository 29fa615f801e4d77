"""Numbers and words as people read them: `1,000,000` not `1e+06`, `1 task` not `1 tasks`.

Imports nothing from mas, so every layer may use it.
"""

from __future__ import annotations


def figure(value: float) -> str:
    """A limit or a count: `1,000,000`, `0.5`, `0.000001`; never scientific notation."""
    if value == int(value) and abs(value) < 1e18:
        return f"{int(value):,}"
    return f"{value:,.6f}".rstrip("0").rstrip(".")


def plural(count: float, word: str, many: str | None = None) -> str:
    """`1 task`, `2 tasks`, `0 tasks`; `many` for irregular words (`1 entry`, `2 entries`)."""
    return f"{figure(count)} {word if count == 1 else many or word + 's'}"


def json_kind(value: object) -> str:
    """What a value read from JSON or YAML is, in JSON's words (`an array`, `null`), never
    Python's (`list`, `NoneType`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    return "an array" if isinstance(value, list | tuple) else f"a {type(value).__name__}"
