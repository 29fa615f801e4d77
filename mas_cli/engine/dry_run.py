"""`mas run --estimate`: an offline dry run, where only `deterministic` tools run.

A `live` tool can act on the world as much as a `side_effect` one (a fetch that is also a
write, a call that is billed): neither runs in a dry run; both answer with a placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mas_cli.spec.models import JsonSchema, ToolSpec
from mas_cli.tools.base import Tool, ToolResult


@dataclass(frozen=True)
class DryRunTool:
    """A live or side_effect tool in a dry run: it answers that it did nothing."""

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
