"""The runs of a batch's items beyond those its results.jsonl names, and what each spent.

An item's run can be followed by runs that results.jsonl does not name: a run in flight when a
pass was killed (SIGKILL, a crash), found by the batch id its run_started names, and a resume
of an item's run made by hand (`mas resume RUN_ID`), found by the run it resumed. Every reader
of a batch follows the same chains, through `unrecorded_runs`: its budget (batch/passes.py),
its reports (batch/report.py: `mas runs --batch`, `mas show BATCH_ID`, `mas cost-report
--batch`, `mas triage loops --batch`), `mas export BATCH_ID` (export/source.py) and `mas view
BATCH_ID` (view/batch.py). It lives here, below them all, as it reads only run logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from mas_cli.events.models import RunFinished, RunStarted
from mas_cli.events.reader import LogReader
from mas_cli.events.runs import unfinished_status
from mas_cli.events.spend import Spend, money
from mas_cli.events.store import EVENTS, runs_dir
from mas_cli.events.text import loads

E = TypeVar("E", RunStarted, RunFinished)
TAIL = 1 << 16  # the bytes read from a log's end to find its run_finished line


def unrecorded_runs(home: Path, batch_id: str, recorded: set[str]) -> list[tuple[str, str]]:
    """(run id, item key) of each run of the batch's items with no result line, oldest first:
    in flight at a kill, or a resume of an item's run made by hand (it names no batch, and
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


def run_end(run_dir: Path) -> RunFinished | None:
    """The run's run_finished, from its log's last line; None when it has none (killed, still
    running) or its log is gone."""
    try:
        with (run_dir / EVENTS).open("rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - TAIL))
            tail = handle.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    except OSError:
        return None
    return _event(tail, RunFinished)


def run_spend(run_dir: Path) -> Spend | None:
    """What a run spent, as its run_finished says, else as its llm_call events add up (a
    run killed before its end); None when its log is gone."""
    finished = run_end(run_dir)
    if finished is not None:
        cost = money(finished.cost_usd) or Decimal(0)
        tokens = {"input_tokens": finished.input_tokens, "output_tokens": finished.output_tokens}
        return Spend(llm_calls=finished.llm_calls, known_cost=cost, **tokens)
    if not (run_dir / EVENTS).is_file():
        return None
    spent = Spend()
    for event in LogReader(run_dir / EVENTS):
        spent(event)
    return spent


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, as its log tells it: what a batch's readers show for a run of an item
    that results.jsonl does not name."""

    status: str
    cost_usd: float | None
    reason: str | None


def run_outcome(run_dir: Path) -> RunOutcome:
    """The run's status (`running` or `killed` when it has no run_finished), what it spent
    (None when its log is gone) and why it stopped."""
    spent = run_spend(run_dir)
    cost = float(spent.known_cost) if spent is not None else None
    end = run_end(run_dir)
    if end is None:
        return RunOutcome(unfinished_status(run_dir), cost, None)
    return RunOutcome(end.status, cost, end.reason)


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
