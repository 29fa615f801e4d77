"""What a check says about a crew file, before it is given a line and column."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from msgspec import Struct

from mas_cli.spec.yamlpos import Path


class Finding(Struct, frozen=True):
    """A problem (or warning) at a path in the crew file."""

    path: Path
    message: str
    hint: str | None = None
    at: Literal["key", "value"] = "value"
    code: str = ""


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """`did you mean 'x'?` for the closest choice, or a list of the choices when none is close."""
    options = sorted({str(c) for c in choices})
    import difflib  # only when a name is wrong

    # a word more than 7/3 times a choice's length is never within 0.6 of it (the ratio is at
    # most 2 * len(choice) / (len(word) + len(choice))), and difflib indexes every character of
    # the word before it looks at a choice: a 16 MiB value took 16 s of CPU and 750 MB
    near = [o for o in options if len(word) <= 3 * len(o)]
    close = difflib.get_close_matches(word, near, n=1, cutoff=0.6) if near else []
    if close:
        return f"did you mean '{close[0]}'?"
    if not options:
        return None
    listed = ", ".join(options[:8]) + (", ..." if len(options) > 8 else "")
    return f"expected one of: {listed}"


def dotted(path: Path, data: object = None) -> str:
    """`agents.scorer.model`; list items by their `id` when they have one: `tasks[score].prompt`."""
    out = ""
    node = data
    for part in path:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and part < len(node) else None
            name = item.get("id") if isinstance(item, dict) else None
            out += f"[{name}]" if isinstance(name, str) else f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
        node = _child(node, part)
    return out


def _child(node: object, part: str | int) -> object:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return None
