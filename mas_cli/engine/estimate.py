"""`mas run --estimate`: run the crew offline in a scratch home and price what it used."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from mas_cli.cost.report import CostReport, cost_report
from mas_cli.engine.outcomes import RunResult
from mas_cli.engine.run import RunOptions, run_crew
from mas_cli.events.store import EVENTS
from mas_cli.spec.loader import Crew

NOT_KEPT = "(dry run: not kept)"


async def estimate_crew(crew: Crew, options: RunOptions) -> tuple[RunResult, CostReport]:
    """An offline dry run: no provider is called, no side_effect tool runs, no run is kept.

    The report prices the offline model's (estimated) usage at the configured models' prices.
    """
    with tempfile.TemporaryDirectory(prefix="mas-estimate-") as scratch:
        dry = dataclasses.replace(options, home=Path(scratch), offline=True, dry_run=True)
        result = await run_crew(crew, dry)
        report = cost_report([Path(result.run_dir) / EVENTS], by="agent")
    # The scratch folder is gone once we return: no path may point into it.
    report.runs = [dataclasses.replace(r, path=NOT_KEPT) for r in report.runs]
    return dataclasses.replace(result, run_dir=NOT_KEPT), report
