"""Reports over run logs: one row per run for `mas runs`, one tree per run for `mas show`.

Pure functions over event streams; a log without `run_finished` is a run that never finished.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from msgspec import Struct, field

from mas_cli.events import logged as ev
from mas_cli.events.liveness import holder, is_running
from mas_cli.events.reader import StructReader
from mas_cli.events.spend import Spend, as_float
from mas_cli.events.store import EVENTS, run_ids, run_time, runs_dir


class RunRow(Struct):
    """One run at a glance."""

    run_id: str
    crew: str = "?"
    status: str = "not finished"
    reason: str | None = None
    started: str = ""
    duration_s: float | None = None
    llm_calls: int = 0
    tokens: int = 0
    cost_usd: float | None = 0.0
    skipped_lines: int = 0
    resumed_from: str | None = None
    """`mas resume`: the run this one continues."""
    replayed_calls: int = 0
    """Model calls answered from the recording: not calls made, not spend."""


STATUSES = ("ok", "failed", "stopped", "interrupted", "unfinished", "running", "killed")


class RunFilter(Struct, frozen=True):
    """Which runs `mas runs` lists: of a crew, with a status, started since a moment."""

    crew: str | None = None
    status: str | None = None
    since: datetime | None = None

    def keeps(self, row: RunRow) -> bool:
        """Whether a run's row passes every condition given."""
        unfinished = self.status == "unfinished" and row.status in UNFINISHED
        return (self.crew is None or row.crew == self.crew) and (
            self.status is None or row.status == self.status or unfinished
        )


def select_runs(home: Path, where: RunFilter, limit: int) -> tuple[list[RunRow], set[str]]:
    """The newest `limit` runs that pass `where`, newest first, and every crew name seen.

    Runs older than `where.since` are not opened (a run id starts with its start time).
    """
    rows: list[RunRow] = []
    crews: set[str] = set()
    for run_id in reversed(run_ids(home)):
        started = run_time(run_id)
        if where.since and started and started < where.since:
            break
        row = run_row(runs_dir(home) / run_id / EVENTS)
        crews.add(row.crew)
        if where.keeps(row):
            rows.append(row)
        if len(rows) >= limit:
            break
    return rows, crews


def run_row(path: Path) -> RunRow:
    """Stream one log into its row; spend comes from llm_call events (`Spend`), status from
    run_finished."""
    reader = StructReader(path)
    row = RunRow(run_id=path.parent.name)
    spend = Spend()
    for event in reader:
        if isinstance(event, ev.RunStarted):
            row.run_id, row.crew, row.started = event.run_id, event.crew, event.ts
            row.resumed_from = event.resumed_from
        elif isinstance(event, ev.LlmCall) and event.replayed:
            row.replayed_calls += 1
        elif isinstance(event, ev.LlmCall):
            spend.add(event)
        elif isinstance(event, ev.RunFinished):
            row.status, row.reason, row.duration_s = event.status, event.reason, event.duration_s
    row.llm_calls, row.tokens, row.cost_usd = spend.llm_calls, spend.tokens, as_float(spend.cost)
    row.skipped_lines = reader.skipped
    if row.status == "not finished":
        row.status = unfinished_status(path.parent)
    return row


UNFINISHED = ("running", "killed")


def unfinished_status(run_dir: Path) -> str:
    """`running` while a live process holds the run, else `killed` (it ended without a word)."""
    return "running" if is_running(run_dir) else "killed"


class Node(Struct):
    """One line of `mas show`'s tree: an event, or a turn (event None), with its children."""

    event: ev.Event | None
    children: list[Node] = field(default_factory=list)
    turn: int | None = None
    finished: ev.TaskFinished | None = None


class RunTree(Struct):
    """A run as a tree: the run, its tasks, their turns, and each turn's calls."""

    root: Node | None
    tasks: list[Node]
    finished: ev.RunFinished | None
    skipped_lines: int
    live: bool = False
    """A live process holds the run (it has no run_finished yet)."""
    pid: int | None = None
    """That process, when it wrote its pid into the run's lock."""
    first_bad: str = ""
    """The first line skipped, as `path:line: why`."""


def run_tree(path: Path) -> RunTree:
    """Build the tree of one run: tasks, turns by number, calls under their turn, and each
    delegated task under the handoff that started it."""
    reader = StructReader(path)
    tree = _TreeBuilder()
    for event in reader:
        tree.add(event)
    reader.check_read()
    running = holder(path.parent) if tree.finished is None else None
    pid = running.pid if running is not None else None
    return RunTree(
        tree.root, tree.top, tree.finished, reader.skipped, running is not None, pid,
        reader.first_bad,
    )  # fmt: skip


class _TreeBuilder(Struct):
    root: Node | None = None
    finished: ev.RunFinished | None = None
    top: list[Node] = field(default_factory=list)
    tasks: dict[str, Node] = field(default_factory=dict)
    turns: dict[tuple[str, int], Node] = field(default_factory=dict)
    handoffs: dict[str, Node] = field(default_factory=dict)

    def add(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            self.root = Node(event)
        elif isinstance(event, ev.RunFinished):
            self.finished = event
        elif isinstance(event, ev.TaskStarted | ev.TaskFinished) and event.task not in self.tasks:
            self._task(event)
        elif isinstance(event, ev.TaskFinished):
            self.tasks[event.task or ""].finished = event
        else:
            self._place(event)

    def _task(self, event: ev.Event) -> None:
        node = Node(event, finished=event if isinstance(event, ev.TaskFinished) else None)
        self.tasks[event.task or ""] = node
        handoff = self.handoffs.get(event.parent_id or "")
        (handoff.children if handoff else self.top).append(node)

    def _place(self, event: ev.Event) -> None:
        node = Node(event)
        if isinstance(event, ev.Handoff):
            self.handoffs[event.span_id] = node
        task = self.tasks.get(event.task or "")
        if task is None:
            self.top.append(node)
        elif event.turn is None:
            task.children.append(node)
        else:
            self._turn(task, event.task or "", event.turn).children.append(node)

    def _turn(self, task: Node, task_id: str, turn: int) -> Node:
        if (task_id, turn) not in self.turns:
            self.turns[(task_id, turn)] = Node(None, turn=turn)
            task.children.append(self.turns[(task_id, turn)])
        return self.turns[(task_id, turn)]
