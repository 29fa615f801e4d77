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
from typing import Any, TypeVar

from mas_cli.batch.folder import read_results
from mas_cli.events.models import RunFinished, RunStarted
from mas_cli.events.reader import LogReader
from mas_cli.events.spend import Spend, money
from mas_cli.events.store import EVENTS, runs_dir
from mas_cli.events.text import loads

E = TypeVar("E", RunStarted, RunFinished)
TAIL = 1 << 16  # the bytes read from a log's end to find its run_finished line


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
    for run_id, key in _unrecorded(home, folder.name, recorded):
        passes.add(run_spend(runs_dir(home) / run_id) or Spend())
        if key not in passes.done and run_id > passes.earlier.get(key, ""):
            passes.earlier[key] = run_id  # in flight at the kill, after its last result
    return passes


def run_spend(run_dir: Path) -> Spend | None:
    """What a run spent, as its run_finished says, else as its llm_call events add up (a
    run killed before its end); None when its log is gone."""
    log = run_dir / EVENTS
    try:
        with log.open("rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - TAIL))
            tail = handle.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    except OSError:
        return None
    finished = _event(tail, RunFinished)
    if finished is not None:
        cost = money(finished.cost_usd) or Decimal(0)
        tokens = {"input_tokens": finished.input_tokens, "output_tokens": finished.output_tokens}
        return Spend(llm_calls=finished.llm_calls, known_cost=cost, **tokens)
    spent = Spend()
    for event in LogReader(log):
        spent(event)
    return spent


def line_spend(record: dict[str, Any]) -> Spend:
    """A result line's cost (0 when it says nothing usable): its run's log is gone."""
    cost = record.get("cost_usd")
    usable = isinstance(cost, int | float) and not isinstance(cost, bool) and math.isfinite(cost)
    return Spend(known_cost=Decimal(str(cost)) if usable else Decimal(0))


def _unrecorded(home: Path, batch_id: str, recorded: set[str]) -> list[tuple[str, str]]:
    """(run id, item key) of each run of the batch with no result line: in flight at a kill,
    or a resume of an item's run made by hand (`mas resume RUN_ID`: it names no batch, and
    spent on the item all the same). Only runs that began after the batch did are read, each
    its first line alone; ids sort by start time, so a resume comes after the run it resumes."""
    folder = runs_dir(home)
    since = batch_id.removeprefix("b-")[:18]  # both ids begin with their start time
    if not folder.is_dir():
        return []
    keys: dict[str, str] = {}  # run id -> item key, for every run of the batch seen so far
    found = []
    for run in sorted(folder.iterdir()):
        if run.name[:18] < since:
            continue
        started = _first(run / EVENTS)
        if started is None:
            continue
        key = started.item_key if started.batch_id == batch_id else None
        key = key or keys.get(started.resumed_from or "")
        if key:
            keys[run.name] = key
            if run.name not in recorded:
                found.append((run.name, key))
    return found


def _first(log: Path) -> RunStarted | None:
    try:
        with log.open("rb") as handle:
            line = handle.readline(TAIL)
    except OSError:
        return None
    return _event(line, RunStarted)


def _event(line: bytes, kind: type[E]) -> E | None:
    """The line as an event of this kind, or None (another kind, a cut line, not JSON)."""
    try:
        doc = loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("type") != kind.model_fields["type"].default:
        return None
    try:
        return kind.model_validate(doc, context={"reading": True})
    except ValueError:
        return None
