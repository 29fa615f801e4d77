"""Loading a crew's function and command tools, and scrubbing every tool's results of the
crew's secrets. Imported through `mas_cli.tools`."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from mas_cli import records
from mas_cli.llm.keys import crew_secrets, model_keys
from mas_cli.redact import Secrets
from mas_cli.spec import mcp as spec_mcp
from mas_cli.spec.loader import Crew
from mas_cli.spec.models import ToolSpec
from mas_cli.tools.base import CUT_SAID, Tool, ToolResult, WrappedTool
from mas_cli.tools.command import load_command_tool
from mas_cli.tools.function import load_function_tool


def load_tools(crew: Crew) -> dict[str, Tool]:
    """Every tool of a crew, by name, ready to call. Function files are imported here.

    Raises:
        ToolError: a function cannot be imported or described, or a command's program is missing;
            the message names the tool, the file and the function.
    """
    modules: dict[str, ModuleType] = {}  # one import per file, shared by the tools it defines
    return {
        name: _load(crew, name, spec, modules)
        for name, spec in crew.spec.tools.items()
        if spec.mcp is None  # an MCP server's tools come from the server (tools.mcp)
    }


def load_tool(crew: Crew, name: str, spec: ToolSpec | None = None) -> Tool:
    """One tool of a crew, ready to call; `spec` replaces its spec (e.g. another timeout).

    Raises:
        ToolError: as load_tools.
    """
    return _load(crew, name, spec or crew.spec.tools[name], {})


def _load(crew: Crew, name: str, spec: ToolSpec, modules: dict[str, ModuleType]) -> Tool:
    base_dir = crew.base_dir.resolve()
    tool: Tool
    if spec.function is not None:
        tool = load_function_tool(name, spec, base_dir, modules)
    else:
        tool = load_command_tool(name, spec, base_dir, model_keys(crew.spec))
    return ScrubbedTool(tool, crew_secrets(crew.spec))


def served_tools(
    crew: Crew, given: dict[str, Tool] | None
) -> contextlib.AbstractAsyncContextManager[dict[str, Tool]]:
    """tools.mcp.mcp_tools (the run's MCP tools, or `given`: a batch's); a crew that declares
    no MCP server has none, and loads none of that code."""
    if given is None and not spec_mcp.servers(crew.spec):
        return contextlib.nullcontext({})
    from mas_cli.tools.mcp import mcp_tools

    return mcp_tools(crew, given)


def scrubbed(crew: Crew, tools: Mapping[str, Tool]) -> dict[str, Tool]:
    """These tools with their results scrubbed of the crew's secrets."""
    if not tools:  # a crew without MCP servers, on every run of a batch: no secrets to gather
        return {}
    secrets = crew_secrets(crew.spec)
    return {name: ScrubbedTool(tool, secrets) for name, tool in tools.items()}


@dataclass(frozen=True)
class ScrubbedTool(WrappedTool):
    """A tool whose results are scrubbed of every known secret: the one place tool output is."""

    secrets: Secrets = dataclasses.field(default_factory=Secrets)

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        """The tool's result with its output, error and traceback scrubbed."""
        result = await self.inner.call(arguments)
        scrub = self.secrets.scrub
        return records.replace(
            result,
            output=_scrub_output(self.secrets, result.output, cut=result.truncated),
            error=scrub(result.error) if result.error else result.error,
            traceback=scrub(result.traceback) if result.traceback else result.traceback,
        )


def _scrub_output(secrets: Secrets, output: str, *, cut: bool) -> str:
    """Output scrubbed; cut at max_output_bytes, a secret split by the cut too (see cap_output:
    the cut is followed by `[output cut at N bytes of M]`)."""
    head, marker, said = output.rpartition(CUT_SAID)
    if not cut or not marker:
        return secrets.scrub(output)
    return secrets.scrub_cut(head) + marker + said
