"""`mas run --estimate`: an offline dry run, where tools with side effects are never run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mas_cli.spec.models import JsonSchema, ToolSpec
from mas_cli.tools.base import Tool, ToolResult


@dataclass(frozen=True)
class DryRunTool:
    """A side_effect tool in a dry run: it answers that it did nothing."""

    inner: Tool

    @property
    def name(self) -> str:
        """The wrapped tool's name."""
        return self.inner.name

    @property
    def spec(self) -> ToolSpec:
        """The wrapped tool's spec."""
        return self.inner.spec

    @property
    def description(self) -> str:
        """The wrapped tool's description, as the model sees it."""
        return self.inner.description

    @property
    def parameters(self) -> JsonSchema:
        """The wrapped tool's parameters."""
        return self.inner.parameters

    def fingerprint(self) -> str:
        """The wrapped tool's fingerprint."""
        return self.inner.fingerprint()

    async def call(self, arguments: dict[str, Any]) -> ToolResult:  # noqa: ARG002 (ignored)
        """Do nothing, and say so."""
        return ToolResult(ok=True, output=f"(dry run: {self.name} has side effects; not run)")


def dry_run_tools(tools: dict[str, Tool]) -> dict[str, Tool]:
    """The same tools, with every side_effect tool replaced by one that does nothing."""
    return {
        name: DryRunTool(tool) if tool.spec.effective_kind == "side_effect" else tool
        for name, tool in tools.items()
    }
