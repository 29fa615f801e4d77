"""Tool names as the crew file writes them and as a model's API accepts them.

An MCP server's tool is `files.read_file` in the crew file, the run log, the cache and
`mas tool-test`; model APIs accept only letters, digits, `_` and `-` (64 at most), so the model
is offered `files__read_file`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping

from mas_cli.spec.mcp import SEPARATOR, split_ref
from mas_cli.tools.base import Tool

WIRE_MAX = 64
_NOT_WIRE = re.compile(r"[^A-Za-z0-9_-]")


def wire_name(name: str) -> str:
    """The name a model is offered: `files.read_file` -> `files__read_file`; a name already
    fit is kept. A name that fits only once something in it is replaced (`files.读取`,
    `files.a/b`, `files.x.y`) or cut (over 64) is given a short digest of itself, so two
    tools never share a name on the wire (`files.a/b` is not `files.a_b`)."""
    server, sep, tool = name.partition(SEPARATOR)
    plain = f"{server}__{tool}" if sep else name
    if len(plain) <= WIRE_MAX and not _NOT_WIRE.search(plain):
        return plain
    fit = _NOT_WIRE.sub("_", plain)[: WIRE_MAX - 9]
    return fit + "_" + hashlib.sha256(name.encode()).hexdigest()[:8]


def held(refs: Iterable[str], tools: Mapping[str, Tool]) -> Iterator[str]:
    """The tools an agent's `tools:` names: a tool, or a server (each of its tools)."""
    for ref in refs:
        if ref in tools:
            yield ref
        else:
            yield from (name for name in tools if name.startswith(ref + SEPARATOR))


def server_of(tool: Tool) -> str | None:
    """The MCP server a tool comes from (its name under tools:), None for other tools."""
    return split_ref(tool.name)[0] if tool.spec.mcp is not None else None
