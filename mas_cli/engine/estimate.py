"""`mas run --estimate`: an offline dry run in a scratch home, priced at the configured models'
prices, where only `deterministic` tools run.

A `live` tool can act on the world as much as a `side_effect` one (a fetch that is also a
write, a call that is billed): neither runs in a dry run; both answer with a placeholder.
No MCP server starts (a start runs a program, `npx -y` downloads one): each tool of a server
that the crew file names answers with a placeholder; one it does not name is not offered.

This module imports `run`, never the other way: the run takes its dry-run tools through
`RunOptions.wrap_tools`, so the run knows nothing of estimates and the import graph stays
acyclic.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from mas_cli import records
from mas_cli.cost.report import CostReport, cost_report
from mas_cli.engine.outcomes import RunResult
from mas_cli.engine.run import RunOptions, run_crew
from mas_cli.events.store import EVENTS
from mas_cli.spec import mcp as spec_mcp
from mas_cli.spec.loader import Crew
from mas_cli.spec.models import JsonSchema, ToolSpec
from mas_cli.tools.base import Tool, ToolResult, WrappedTool, parts_digest

NOT_KEPT = "(dry run: not kept)"


async def estimate_crew(crew: Crew, options: RunOptions) -> tuple[RunResult, CostReport]:
    """An offline dry run: no provider is called, no side_effect tool runs, no run is kept.

    The report prices the offline model's (estimated) usage at the configured models' prices.
    """
    with tempfile.TemporaryDirectory(prefix="mas-estimate-") as scratch:
        shared = records.replace(options.shared, mcp=unstarted_tools(crew))
        dry = records.replace(
            options, home=Path(scratch), offline=True, wrap_tools=dry_run_tools, shared=shared
        )
        result = await run_crew(crew, dry)
        report = cost_report([Path(result.run_dir) / EVENTS], by="agent")
    # The scratch folder is gone once we return: no path may point into it.
    report.runs = [records.replace(r, path=NOT_KEPT) for r in report.runs]
    return records.replace(result, run_dir=NOT_KEPT), report


@dataclass(frozen=True)
class DryRunTool(WrappedTool):
    """A live or side_effect tool in a dry run: it answers that it did nothing."""

    async def call(self, arguments: dict[str, Any]) -> ToolResult:  # noqa: ARG002 (ignored)
        """Do nothing, and say so."""
        kind = self.spec.effective_kind
        return ToolResult(ok=True, output=f"(dry run: {self.name} is a {kind} tool; not run)")


def dry_run_tools(tools: dict[str, Tool]) -> dict[str, Tool]:
    """The same tools, with every tool that is not deterministic replaced by one that does
    nothing."""
    return {
        name: tool if tool.spec.effective_kind == "deterministic" else DryRunTool(tool)
        for name, tool in tools.items()
    }


def not_run(tools: Mapping[str, ToolSpec]) -> dict[str, str]:
    """The tools a dry run answers with a placeholder, with their kinds (MCP servers: see
    not_started)."""
    return {
        name: spec.effective_kind
        for name, spec in tools.items()
        if spec.effective_kind != "deterministic" and spec.mcp is None
    }


def not_started(crew: Crew) -> list[str]:
    """The MCP servers a run would start (some agent names them), which a dry run does not."""
    if not spec_mcp.servers(crew.spec):
        return []
    from mas_cli.tools.mcp.pool import used_servers

    return used_servers(crew)


class UnstartedTool(Struct, frozen=True):
    """A tool of an MCP server that a dry run does not start: its schema is unknown (any
    object), and a call answers that it did nothing."""

    name: str
    spec: ToolSpec
    description: str = ""
    parameters: JsonSchema = field(default_factory=lambda: {"type": "object"})

    def fingerprint(self) -> str:
        """Never a key a real call's result is cached under."""
        return parts_digest("dry-run", self.name)

    async def call(self, arguments: dict[str, Any]) -> ToolResult:  # noqa: ARG002 (ignored)
        """Do nothing, and say so."""
        server = spec_mcp.split_ref(self.name)[0]
        text = f"(dry run: {self.name} is a tool of the MCP server {server}, not started)"
        return ToolResult(ok=True, output=text)


def unstarted_tools(crew: Crew) -> dict[str, Tool] | None:
    """Every tool the crew file names of each server some agent uses, unstarted; None for a
    crew without MCP servers."""
    servers = not_started(crew)
    if not servers:
        return None
    from mas_cli.tools.mcp.pool import named_tools

    tools: dict[str, Tool] = {}
    for server in servers:
        spec = crew.spec.tools[server]
        for tool in named_tools(crew, server):
            own = spec.model_copy(update={"kind": spec.kind_of(tool), "deterministic": None})
            tools[f"{server}{spec_mcp.SEPARATOR}{tool}"] = UnstartedTool(f"{server}.{tool}", own)
    return tools
