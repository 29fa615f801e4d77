"""Tools agents call (Python functions, commands) and the deterministic-output cache.

`load_tools(crew)` gives each declared tool as a `Tool`; `await tool.call(arguments)` always
returns a `ToolResult`: bad arguments, errors and timeouts are results the model is shown.
"""

from __future__ import annotations

from types import ModuleType

from mas_cli.spec.loader import Crew
from mas_cli.spec.models import ToolSpec
from mas_cli.tools.base import Tool, ToolResult, check_arguments
from mas_cli.tools.command import CommandTool, load_command_tool
from mas_cli.tools.function import FunctionTool, load_function_tool

__all__ = [
    "CommandTool",
    "FunctionTool",
    "Tool",
    "ToolResult",
    "check_arguments",
    "load_tool",
    "load_tools",
]


def load_tools(crew: Crew) -> dict[str, Tool]:
    """Every tool of a crew, by name, ready to call. Function files are imported here.

    Raises:
        ToolError: a function cannot be imported or described, or a command's program is missing;
            the message names the tool, the file and the function.
    """
    base_dir = crew.base_dir.resolve()
    modules: dict[str, ModuleType] = {}  # one import per file, shared by the tools it defines
    tools: dict[str, Tool] = {}
    for name, spec in crew.spec.tools.items():
        if spec.function is not None:
            tools[name] = load_function_tool(name, spec, base_dir, modules)
        else:
            tools[name] = load_command_tool(name, spec, base_dir)
    return tools


def load_tool(crew: Crew, name: str, spec: ToolSpec | None = None) -> Tool:
    """One tool of a crew, ready to call; `spec` replaces its spec (e.g. another timeout).

    Raises:
        ToolError: as load_tools.
    """
    spec = spec or crew.spec.tools[name]
    base_dir = crew.base_dir.resolve()
    if spec.function is not None:
        return load_function_tool(name, spec, base_dir, {})
    return load_command_tool(name, spec, base_dir)
