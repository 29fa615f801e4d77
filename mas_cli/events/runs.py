"""Reports over run logs: one row per run for `mas runs`, one tree per run for `mas show`.

Pure functions over event streams; a log without `run_finished` is a run that never finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mas_cli.events import models as ev
from mas_cli.events.reader import LogReader


@dataclass
class RunRow:
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


def run_row(path: Path) -> RunRow:
    """Stream one log into its row; counts come from llm_call events, status from run_finished."""
    reader = LogReader(path)
    row = RunRow(run_id=path.parent.name)
    for event in reader:
        if isinstance(event, ev.RunStarted):
            row.run_id, row.crew, row.started = event.run_id, event.crew, event.ts
        elif isinstance(event, ev.LlmCall):
            row.llm_calls += 1
            row.tokens += event.input_tokens + event.output_tokens
            row.cost_usd = (
                None
                if row.cost_usd is None or event.cost_usd is None
                else row.cost_usd + event.cost_usd
            )
        elif isinstance(event, ev.RunFinished):
            row.status, row.reason, row.duration_s = event.status, event.reason, event.duration_s
    row.skipped_lines = reader.skipped
    return row


@dataclass
class Node:
    """One line of `mas show`'s tree: an event, or a turn (event None), with its children."""

    event: ev.Event | None
    children: list[Node] = field(default_factory=list)
    turn: int | None = None
    finished: ev.TaskFinished | None = None


@dataclass
class RunTree:
    """A run as a tree: the run, its tasks, their turns, and each turn's calls."""

    root: Node | None
    tasks: list[Node]
    finished: ev.RunFinished | None
    skipped_lines: int


def run_tree(path: Path) -> RunTree:
    """Build the tree of one run: tasks by span, turns by number, calls under their turn."""
    reader = LogReader(path)
    root: Node | None = None
    tasks: dict[str, Node] = {}
    turns: dict[tuple[str, int], Node] = {}
    finished = None
    for event in reader:
        if isinstance(event, ev.RunStarted):
            root = Node(event)
        elif isinstance(event, ev.RunFinished):
            finished = event
        elif isinstance(event, ev.TaskStarted) or (
            isinstance(event, ev.TaskFinished) and event.task not in tasks
        ):
            tasks[event.task or ""] = Node(event)
        elif isinstance(event, ev.TaskFinished):
            tasks[event.task or ""].finished = event
        else:
            _place(event, tasks, turns, root)
    return RunTree(root, list(tasks.values()), finished, reader.skipped)


def _place(
    event: ev.Event, tasks: dict[str, Node], turns: dict[tuple[str, int], Node], root: Node | None
) -> None:
    task = tasks.get(event.task or "")
    if task is None:
        if root is not None:
            root.children.append(Node(event))
        return
    if event.turn is None:
        task.children.append(Node(event))
        return
    key = (event.task or "", event.turn)
    if key not in turns:
        turns[key] = Node(None, turn=event.turn)
        task.children.append(turns[key])
    turns[key].children.append(Node(event))
