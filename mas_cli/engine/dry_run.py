"""`mas run --estimate`: an offline dry run, where tools with side effects are never run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mas_cli.tools.base import Tool, ToolResult, WrappedTool


@dataclass(frozen=True)
class DryRunTool(WrappedTool):
    """A side_effect tool in a dry run: it answers that it did nothing."""

    async def call(self, arguments: dict[str, Any]) -> ToolResult:  # noqa: ARG002 (ignored)
        """Do nothing, and say so."""
        return ToolResult(ok=True, output=f"(dry run: {self.name} has side effects; not run)")


def dry_run_tools(tools: dict[str, Tool]) -> dict[str, Tool]:
    """The same tools, with every side_effect tool replaced by one that does nothing."""
    return {
        name: DryRunTool(tool) if tool.spec.effective_kind == "side_effect" else tool
        for name, tool in tools.items()
    }
