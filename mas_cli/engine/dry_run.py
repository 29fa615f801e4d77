"""`mas run --estimate`: an offline dry run, where only `deterministic` tools run.

A `live` tool can act on the world as much as a `side_effect` one (a fetch that is also a
write, a call that is billed): neither runs in a dry run; both answer with a placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mas_cli.spec.models import ToolSpec
from mas_cli.tools.base import Tool, ToolResult, WrappedTool


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
    """The tools a dry run answers with a placeholder, with their kinds."""
    return {
        name: spec.effective_kind
        for name, spec in tools.items()
        if spec.effective_kind != "deterministic"
    }
