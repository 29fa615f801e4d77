"""Reading a batch back: its folder first (batch.json, results.jsonl, dead.jsonl), then its runs.

What `mas runs --batch`, `mas show --batch`, `mas cost-report --batch` and `mas triage loops
--batch` read. Each item counts once, as its latest run says (a resumed item may have several);
money counts every run the batch made, since a stopped run that was resumed spent too. The runs
are those results.jsonl names and those it does not (a resume of an item's run made by hand, a
run in flight at a kill), found as the batch's budget finds them (events/chains.py): the reports
and the budget agree.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mas_cli.batch.folder import (
    DEAD,
    batch_ids,
    batches_dir,
    live_status,
    read_info,
    read_results,
)
from mas_cli.errors import UsageError
from mas_cli.events.chains import run_outcome, unrecorded_runs
from mas_cli.events.store import EVENTS, runs_dir


@dataclass(frozen=True)
class ItemRow:
    """One item as its last result records it."""

    key: str
    run_id: str | None
    status: str
    cost_usd: float | None
    error: str | None


@dataclass(frozen=True)
class BatchView:
    """A batch as its folder tells it."""

    batch_id: str
    info: dict[str, Any]
    items: list[ItemRow]
    dead: int
    runs: dict[str, float] = field(default_factory=dict)
    """Every run of every item (a resumed item's earlier runs too) and what it cost."""

    def by_status(self) -> dict[str, int]:
        """How many items ended each way."""
        return dict(Counter(item.status for item in self.items).most_common())

    def looped(self, count: int = 10) -> list[ItemRow]:
        """Items a loop guard stopped (no progress, repeated calls, turns, the breaker...),
        dearest first."""
        looped = [i for i in self.items if i.status == "stopped" and _loop_stop(i.error)]
        return sorted(looped, key=lambda i: -(i.cost_usd or 0))[:count]

    def costliest(self, count: int = 10) -> list[ItemRow]:
        """The items that cost most, dearest first."""
        return sorted(self.items, key=lambda i: -(i.cost_usd or 0))[:count]

    @property
    def cost_usd(self) -> float:
        """What the batch spent: every run of every item, each run once."""
        return sum(self.runs.values())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "batch_id": self.batch_id,
            "crew": self.info.get("crew"),
            "status": live_status(self.info),
            "reason": self.info.get("reason"),
            "started": self.info.get("started"),
            "finished": self.info.get("finished"),
            "items": len(self.items),
            "by_status": self.by_status(),
            "dead_letters": self.dead,
            "cost_usd": round(self.cost_usd, 8),
            "costliest": [item.__dict__ for item in self.costliest()],
            "looped": [item.__dict__ for item in self.looped(len(self.items))],
        }


def read_batch(home: Path, folder: Path) -> BatchView:
    """The batch in `folder`, each item by its latest run: its last result, or a later run
    of its chain that results.jsonl does not name.

    Raises:
        UsageError: batch.json is missing or unreadable.
    """
    info = read_info(folder)
    info = {**info, "status": live_status(info, folder)}  # a batch killed reads killed
    latest: dict[str, ItemRow] = {}
    runs: dict[str, float] = {}
    for record in read_results(folder):
        row = latest[record["key"]] = _row(record)
        if row.run_id:
            runs[row.run_id] = row.cost_usd or 0.0
    for run_id, key in unrecorded_runs(home, folder.name, set(runs)):
        row = _run_row(runs_dir(home) / run_id, key)
        runs[run_id] = row.cost_usd or 0.0
        if key not in latest or run_id > (latest[key].run_id or ""):  # ids sort by start
            latest[key] = row
    return BatchView(folder.name, info, list(latest.values()), _lines(folder / DEAD), runs)


def _run_row(run_dir: Path, key: str) -> ItemRow:
    """An item as a run of its that results.jsonl does not name tells it, from its log."""
    ended = run_outcome(run_dir)
    return ItemRow(key, run_dir.name, ended.status, ended.cost_usd, ended.reason)


def batch_logs(home: Path, view: BatchView) -> list[Path]:
    """The run log of every run of the batch's items that is still there.

    Raises:
        UsageError: the batch has no run to read.
    """
    runs = runs_dir(home)
    paths = [runs / run_id / EVENTS for run_id in view.runs]
    found = [path for path in paths if path.is_file()]
    if not view.runs:  # not one item has ended yet: nothing was pruned
        running = view.info.get("status") == "running"
        raise UsageError(
            f"batch {view.batch_id} has no finished item yet"
            + (" (it is still running)" if running else ""),
            hint="wait for an item to finish; the runs in flight are listed by: mas runs",
        )
    if not found:
        raise UsageError(
            f"batch {view.batch_id} has no runs under {runs}",
            hint="its runs may have been pruned; mas show --batch still reads its folder",
        )
    return found


def missing_runs(home: Path, view: BatchView) -> list[str]:
    """The batch's runs whose log is gone (pruned or deleted)."""
    runs = runs_dir(home)
    return [run_id for run_id in view.runs if not (runs / run_id / EVENTS).is_file()]


def list_batches(home: Path) -> list[dict[str, Any]]:
    """Every batch under the home, newest first, as its batch.json says."""
    rows = []
    for batch_id in reversed(batch_ids(home)):
        try:
            info = read_info(batches_dir(home) / batch_id)
        except UsageError:
            continue
        counts = info.get("counts") if isinstance(info.get("counts"), dict) else {}
        rows.append(
            {
                "batch_id": batch_id,
                "crew": info.get("crew"),
                "status": live_status(info, batches_dir(home) / batch_id),
                "started": info.get("started"),
                "counts": counts,
                "cost_usd": info.get("cost_usd"),
            }
        )
    return rows


def _row(record: dict[str, Any]) -> ItemRow:
    cost = record.get("cost_usd")
    return ItemRow(
        str(record["key"]),
        record.get("run_id") if isinstance(record.get("run_id"), str) else None,
        str(record.get("status")),
        float(cost) if isinstance(cost, int | float) else None,
        record.get("error") if isinstance(record.get("error"), str) else None,
    )


LOOP_STOPS = (
    "no progress",
    "max_turns",
    "max_identical_tool_calls",
    "max_llm_calls",
    "max_tool_calls",
    "delegation ping-pong",
    "max_identical_delegations",
    "max_delegations",
)
"""What a loop guard's stop reason says (engine/outcomes.py's messages); a batch's own budget
stop says "for the batch" and is no loop."""


def _loop_stop(error: str | None) -> bool:
    if not error or "for the batch" in error:
        return False
    return any(stop in error for stop in LOOP_STOPS)


def _lines(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            return sum(1 for _ in handle)
    except OSError:
        return 0
