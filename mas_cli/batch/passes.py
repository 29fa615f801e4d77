"""What the earlier passes of a batch spent and left unfinished, for `mas resume BATCH_ID`.

The batch's budgets (--max-cost-usd, --max-llm-calls, --max-tokens) count every pass: each run
of the batch counts with what its own log says it spent (its run_finished totals; for a run
killed before its end, its llm_call events), replayed calls at nothing. That includes the runs
that were in flight when a pass was killed (SIGKILL, a crash): they have no results.jsonl line,
and are found by the batch id their run_started names; and a resume of an item's run made by
hand (`mas resume RUN_ID`), found by the run it resumed. Such an item is resumed from that run,
as an unfinished item is: what it paid and the side effects it made are not made again. A run
whose folder is gone counts with the cost its result line gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from mas_cli.batch.folder import read_results
from mas_cli.events.chains import run_spend, unrecorded_runs
from mas_cli.events.spend import Spend
from mas_cli.events.store import runs_dir


@dataclass
class Passes:
    """The keys done, the last run of each item left unfinished, and what every run spent."""

    done: set[str] = field(default_factory=set)
    earlier: dict[str, str] = field(default_factory=dict)
    llm_calls: int = 0
    tokens: int = 0
    cost_usd: Decimal = Decimal(0)

    def add(self, spent: Spend) -> None:
        """Count one run's spend."""
        self.llm_calls += spent.llm_calls
        self.tokens += spent.tokens
        self.cost_usd += spent.known_cost


def read_passes(home: Path, folder: Path) -> Passes:
    """The batch in `folder` as its earlier passes left it (see the module's doc)."""
    passes, last = Passes(), dict[str, tuple[str, str | None]]()
    recorded: set[str] = set()
    for record in read_results(folder):
        run_id = record.get("run_id")
        last[record["key"]] = (str(record.get("status")), run_id)
        if isinstance(run_id, str):
            recorded.add(run_id)
        spent = run_spend(runs_dir(home) / run_id) if isinstance(run_id, str) else None
        passes.add(spent or line_spend(record))
    for key, status_run in last.items():
        status, run_id = status_run
        if status == "ok":
            passes.done.add(key)
        elif isinstance(run_id, str):
            passes.earlier[key] = run_id
    for run_id, key in unrecorded_runs(home, folder.name, recorded):
        passes.add(run_spend(runs_dir(home) / run_id) or Spend())
        if key not in passes.done and run_id > passes.earlier.get(key, ""):
            passes.earlier[key] = run_id  # in flight at the kill, after its last result
    return passes


def line_spend(record: dict[str, Any]) -> Spend:
    """A result line's cost (0 when it says nothing usable): its run's log is gone."""
    cost = record.get("cost_usd")
    usable = isinstance(cost, int | float) and not isinstance(cost, bool) and math.isfinite(cost)
    return Spend(known_cost=Decimal(str(cost)) if usable else Decimal(0))
