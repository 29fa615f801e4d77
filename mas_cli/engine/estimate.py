"""`mas run --estimate`: an offline dry run in a scratch home, priced at the configured models'
prices, where only `deterministic` tools run.

A `live` tool can act on the world as much as a `side_effect` one (a fetch that is also a
write, a call that is billed): neither runs in a dry run; both answer with a placeholder.

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

from msgspec import structs

from mas_cli import records
from mas_cli.cost.report import CostReport, cost_report
from mas_cli.engine.outcomes import RunResult
from mas_cli.engine.run import RunOptions, run_crew
from mas_cli.events.store import EVENTS
from mas_cli.spec.loader import Crew
from mas_cli.spec.models import ToolSpec
from mas_cli.tools.base import Tool, ToolResult, WrappedTool

NOT_KEPT = "(dry run: not kept)"


async def estimate_crew(crew: Crew, options: RunOptions) -> tuple[RunResult, CostReport]:
    """An offline dry run: no provider is called, no side_effect tool runs, no run is kept.

    The report prices the offline model's (estimated) usage at the configured models' prices.
    """
    with tempfile.TemporaryDirectory(prefix="mas-estimate-") as scratch:
        dry = records.replace(options, home=Path(scratch), offline=True, wrap_tools=dry_run_tools)
        result = await run_crew(crew, dry)
        report = cost_report([Path(result.run_dir) / EVENTS], by="agent")
    # The scratch folder is gone once we return: no path may point into it.
    report.runs = [records.replace(r, path=NOT_KEPT) for r in report.runs]
    return structs.replace(result, run_dir=NOT_KEPT), report


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
