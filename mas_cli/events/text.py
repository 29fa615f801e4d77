"""Text that can always be written: lone surrogates (from a JSON `\\ud800`, or bytes that were
not UTF-8) become U+FFFD, so no record, log line or terminal write fails on them.

Applied where foreign text enters a run (model answers, tool outputs, inputs) and, as a last
resort, to every line the writers append.
"""

from __future__ import annotations

import json
from typing import Any


def fix_text(text: str) -> str:
    """The text with each lone surrogate replaced by U+FFFD; valid pairs are joined."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def fix_value(value: Any) -> Any:
    """A JSON-like value with fix_text applied to every string and key, without recursion
    (a deeply nested value cannot overflow the stack). Containers are fixed in place."""
    if isinstance(value, str):
        return fix_text(value)
    stack = [value] if isinstance(value, dict | list) else []
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            fixed = {fix_text(k) if isinstance(k, str) else k: v for k, v in node.items()}
            node.clear()
            node.update(fixed)
        for key, item in list(node.items() if isinstance(node, dict) else enumerate(node)):
            if isinstance(item, str):
                node[key] = fix_text(item)
            elif isinstance(item, dict | list):
                stack.append(item)
    return value


def loads(text: str | bytes) -> Any:
    """json.loads, where nesting too deep for Python, or an integer longer than Python reads
    (4,300 digits), is a JSONDecodeError like any bad JSON.

    Raises:
        json.JSONDecodeError: not JSON, nested deeper than the interpreter can parse, or holding
            an integer past 4,300 digits.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as exc:
        doc = text if isinstance(text, str) else text.decode("utf-8", "replace")
        said = "nested too deeply to read" if isinstance(exc, RecursionError) else _LONG_INT
        raise json.JSONDecodeError(said, doc[:80], 0) from None


_LONG_INT = "an integer of more than 4,300 digits, more than Python reads"
