"""`mas cache explain`: the inputs of one call's key, and why it would miss.

When there is no entry for the key, the nearest entry of the same tool is the one that shares
the most inputs (code, version, output cap, then arguments), and the inputs that differ are
listed in that order: the first one is why the call misses.
"""

from __future__ import annotations

import asyncio
import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mas_cli.events.text import loads
from mas_cli.llm.keys import crew_secrets
from mas_cli.spec.loader import load_crew
from mas_cli.spec.models import ToolKind
from mas_cli.tools.arguments import parse_arguments
from mas_cli.tools.base import Tool, check_arguments
from mas_cli.tools.cache import CacheEntry, cache_dir
from mas_cli.tools.cache_admin import entries, opened
from mas_cli.tools.cachekey import KeyInputs, cacheable, key_inputs
from mas_cli.tools.tooltest import find_crew, open_tool

SIMILARITY_CHARS = 2000
"""How much of two argument texts is compared to rank near misses (the ratio is quadratic)."""


@dataclass(frozen=True)
class Difference:
    """One key input that differs between this call and an entry."""

    input: str
    """"version", "code fingerprint", "max_output_bytes" or "argument 'name'"."""
    call: str
    entry: str


@dataclass(frozen=True)
class Explanation:
    """What the cache holds for one call."""

    inputs: KeyInputs
    kind: ToolKind
    cacheable: bool
    problems: tuple[str, ...]
    """The arguments' problems: such a call fails, and failures are never cached."""
    entry: CacheEntry | None
    nearest: CacheEntry | None
    differences: tuple[Difference, ...]
    tool_entries: int


def explain_call(
    crew: Path | None, tool: str, pairs: list[str], args_json: str | None, home: Path
) -> Explanation:
    """Find the crew and the tool, read the arguments as tool-test does, and explain the call.

    Raises:
        UsageError: no crew, no such tool, malformed arguments, an unreadable cache.
        SpecError: the crew file has problems.
        ToolError: the tool cannot be loaded.
    """
    loaded = load_crew(find_crew(crew, Path.cwd()))

    async def explained() -> Explanation:
        async with open_tool(loaded, tool) as found:  # an MCP tool's schema is its server's
            secrets = crew_secrets(loaded.spec)
            arguments = parse_arguments(found.parameters, pairs, args_json, secrets)
            return explain(found, arguments, cache_dir(home))

    return asyncio.run(explained())


def explain(tool: Tool, arguments: dict[str, Any], directory: Path) -> Explanation:
    """Look up one call's key and, on a miss, the nearest entry of the same tool.

    Raises:
        UsageError: the cache cannot be read.
    """
    inputs = key_inputs(tool, arguments)
    with opened(directory) as db:
        stored = list(entries(db, tool.name))
    entry = next((e for e in stored if e.inputs == inputs), None)
    nearest = None if entry else max(stored, key=lambda e: _closeness(inputs, e), default=None)
    return Explanation(
        inputs=inputs,
        kind=tool.spec.effective_kind,
        cacheable=cacheable(tool),
        problems=tuple(check_arguments(tool, arguments)),
        entry=entry,
        nearest=nearest,
        differences=differences(inputs, nearest.inputs) if nearest else (),
        tool_entries=len(stored),
    )


def differences(call: KeyInputs, entry: KeyInputs) -> tuple[Difference, ...]:
    """The inputs that differ, in key order; a changed version is not also a changed code."""
    found = []
    if call.version != entry.version:
        found.append(Difference("version", repr(call.version), repr(entry.version)))
    elif call.fingerprint != entry.fingerprint:
        found.append(Difference("code fingerprint", call.fingerprint[:16], entry.fingerprint[:16]))
    if call.max_output_bytes != entry.max_output_bytes:
        found.append(
            Difference("max_output_bytes", str(call.max_output_bytes), str(entry.max_output_bytes))
        )
    return (*found, *_argument_differences(call.arguments, entry.arguments))


def _argument_differences(call: str, entry: str) -> list[Difference]:
    mine, theirs = _arguments(call), _arguments(entry)
    return [
        Difference(f"argument '{name}'", _shown(mine, name), _shown(theirs, name))
        for name in sorted(set(mine) | set(theirs))
        if mine.get(name, _ABSENT) != theirs.get(name, _ABSENT)
    ]


_ABSENT = object()


def _closeness(call: KeyInputs, entry: CacheEntry) -> tuple[int, int, int, int, float, float]:
    """Sorts entries by how many inputs they share with the call, then by how alike their
    arguments read ("refund polcy" is nearer "refund policy" than "reset password"); the
    newest wins a tie."""
    mine, theirs = _arguments(call.arguments), _arguments(entry.inputs.arguments)
    same_args = sum(1 for k, v in mine.items() if k in theirs and theirs[k] == v)
    alike = difflib.SequenceMatcher(
        None, call.arguments[:SIMILARITY_CHARS], entry.inputs.arguments[:SIMILARITY_CHARS]
    ).ratio()
    return (
        entry.inputs.fingerprint == call.fingerprint,
        entry.inputs.version == call.version,
        entry.inputs.max_output_bytes == call.max_output_bytes,
        same_args - len(set(theirs) - set(mine)),
        alike,
        entry.stored_at,
    )


def _arguments(canonical: str) -> dict[str, Any]:
    try:
        value = loads(canonical)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _shown(arguments: dict[str, Any], name: str) -> str:
    if name not in arguments:
        return "(absent)"
    return json.dumps(arguments[name], ensure_ascii=False)
