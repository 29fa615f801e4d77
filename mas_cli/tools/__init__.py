"""Tools agents call (Python functions, commands, MCP servers' tools) and the deterministic-output
cache.

`load_tools(crew)` gives each function and command tool as a `Tool` (an MCP server's tools
come from the started server: `tools.mcp.open_servers`, wrapped by `scrubbed`);
`await tool.call(arguments)` always returns a `ToolResult`: bad arguments, errors and timeouts
are results the model is shown.
Every result is scrubbed of the crew's known secrets before anyone (the cache, the run log,
the model, `mas tool-test`) sees it; command tools run with an allow-listed environment.

The names below load on first use: `mas cache stats` reads the cache through
`mas_cli.tools.cache_admin` without the tool runtime, the crew loader or the provider keys.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mas_cli.tools.base import Tool, ToolResult, check_arguments
    from mas_cli.tools.command import CommandTool
    from mas_cli.tools.function import FunctionTool
    from mas_cli.tools.loading import ScrubbedTool, load_tool, load_tools, scrubbed, served_tools

__all__ = [
    "CommandTool",
    "FunctionTool",
    "ScrubbedTool",
    "Tool",
    "ToolResult",
    "check_arguments",
    "load_tool",
    "load_tools",
    "scrubbed",
    "served_tools",
]

_WHERE = {
    "Tool": "base",
    "ToolResult": "base",
    "check_arguments": "base",
    "CommandTool": "command",
    "FunctionTool": "function",
    "ScrubbedTool": "loading",
    "load_tool": "loading",
    "load_tools": "loading",
    "scrubbed": "loading",
    "served_tools": "loading",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
