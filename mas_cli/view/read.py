"""A run log read into the plain records a view draws: tasks, calls, marks, state writes.

Lines are read with the run-log event models (`mas_cli.events.models.read_event`) one at a
time; a line that is not an event is counted and skipped. Times are seconds since the run
started. A model or tool call's event is written when it ends: it started `latency_s` before,
after waiting `wait_s`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mas_cli.events import models as ev
from mas_cli.events.reader import LogReader
from mas_cli.events.spend import Spend

"""A longer line is not one of ours: skipped like any bad line, never held whole."""
MAX_CALLS = 5000
"""Calls (and marks, and state writes) kept for drawing: a longer run keeps its first ones and
counts the rest, so memory and the page stay bounded; the tallies and totals count them all."""


@dataclass
class Task:
    """One task run (a delegation runs as a task of its own, nested under its delegator)."""

    index: int
    name: str
    agent: str
    span: str
    start: float
    end: float | None = None
    status: str = "running"
    reason: str = ""
    parent: int | None = None
    depth: int = 0


@dataclass
class Call:
    """One model call attempt or tool call, placed in time."""

    index: int
    kind: str  # "llm" or "tool"
    task: int | None
    start: float
    end: float
    wait: float
    label: str
    status: str
    detail: dict[str, Any]
    retry: bool = False


@dataclass
class Mark:
    """A moment worth a marker: a limit hit, a retry, a rate-limit wait, a warning."""

    kind: str
    at: float
    task: int | None
    text: str


@dataclass
class Run:
    """Everything a run's view shows, read from its log."""

    path: Path
    started: datetime | None = None
    info: dict[str, Any] = field(default_factory=dict)
    finish: dict[str, Any] = field(default_factory=dict)
    tasks: list[Task] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)
    turns: dict[str, list[int]] = field(default_factory=dict)
    """Input tokens of each model call, per agent, in order: history growth."""
    by_agent: dict[str, Spend] = field(default_factory=dict)
    by_task: dict[str, Spend] = field(default_factory=dict)
    by_model: dict[str, Spend] = field(default_factory=dict)
    spent: Spend = field(default_factory=Spend)
    """Every model call's tokens and cost: the totals of a run without `run_finished`."""
    bad_lines: int = 0
    first_bad: str = ""
    """The first line skipped, as `path:line: why`."""
    calls_seen: int = 0
    llm_calls: int = 0
    tool_calls: int = 0
    end: float = 0.0

    @property
    def run_id(self) -> str:
        """The run's id, as its log names it."""
        return str(self.info.get("run_id") or self.path.parent.name)


def read_run(path: Path, *, named: bool = False) -> Run:
    """Read one run's events.jsonl (or its gzipped archive) into a `Run`, streaming its lines.

    Raises:
        LogFormatError: `named` (the log the user named) and not one of its lines is an event.
    """
    builder = _Builder(Run(path))
    reader = LogReader(path)
    for event in reader:
        builder.add(event)
    builder.run.bad_lines, builder.run.first_bad = reader.skipped, reader.first_bad
    if named:
        reader.check_read()
    return builder.done()


def moment(ts: str) -> datetime | None:
    """The moment a log's `ts` names; one without a zone is UTC, as the writer's are."""
    try:
        when = datetime.fromisoformat(ts)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class _Builder:
    """Folds events into a `Run`, one at a time."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.open: dict[str, int] = {}  # task name -> the latest task of that name
        self.handoffs: dict[str, int | None] = {}  # handoff span -> the delegating task

    def add(self, event: ev.Event) -> None:
        at = self._at(event.ts)
        self.run.end = max(self.run.end, at)
        handler = getattr(self, "_on_" + str(getattr(event, "type", "")), None)
        if handler is not None:
            handler(event, at)

    def done(self) -> Run:
        for task in self.run.tasks:
            if task.end is None:
                task.end = self.run.end
        return self.run

    def _at(self, ts: str) -> float:
        when = moment(ts)
        if when is None:
            return self.run.end
        if self.run.started is None:
            self.run.started = when
        return max(0.0, (when - self.run.started).total_seconds())

    def _task_of(self, event: ev.Event) -> int | None:
        return self.open.get(event.task or "")

    def _on_run_started(self, event: ev.RunStarted, _at: float) -> None:
        self.run.info = _fields(event)

    def _on_run_finished(self, event: ev.RunFinished, _at: float) -> None:
        self.run.finish = _fields(event)

    def _on_task_started(self, event: ev.TaskStarted, at: float) -> None:
        parent = self.handoffs.get(event.parent_id or "")
        depth = self.run.tasks[parent].depth + 1 if parent is not None else 0
        index = len(self.run.tasks)
        name, agent = event.task or "?", event.agent or "?"
        self.run.tasks.append(
            Task(index, name, agent, event.span_id, at, parent=parent, depth=depth)
        )
        self.open[name] = index

    def _on_task_finished(self, event: ev.TaskFinished, at: float) -> None:
        index = self._task_of(event)
        if index is not None:
            task = self.run.tasks[index]
            task.end, task.status, task.reason = at, event.status, event.reason or ""

    def _on_handoff(self, event: ev.Handoff, _at: float) -> None:
        self.handoffs[event.span_id] = self._task_of(event)

    def _on_llm_call(self, event: ev.LlmCall, at: float) -> None:
        self.run.llm_calls += 1
        retry = event.attempt > 1 or event.status != "ok"
        self._call(event, at, "llm", took=event.latency_s, wait=event.wait_s, retry=retry)
        if event.status == "ok":
            self.run.turns.setdefault(event.agent or "?", []).append(event.input_tokens)
        for table, key in self._tallies(event, event.model):
            table.setdefault(key, Spend()).add(event)
        self.run.spent.add(event)

    def _on_tool_call(self, event: ev.ToolCallEvent, at: float) -> None:
        self.run.tool_calls += 1
        retry = event.status != "ok"
        self._call(event, at, "tool", took=event.latency_s, wait=0.0, retry=retry)

    def _tallies(self, event: ev.Event, model: str) -> list[tuple[dict[str, Spend], str]]:
        run = self.run
        return [
            (run.by_agent, event.agent or "?"),
            (run.by_task, event.task or "?"),
            (run.by_model, model),
        ]

    def _call(
        self,
        event: ev.LlmCall | ev.ToolCallEvent,
        at: float,
        kind: str,
        *,
        took: float,
        wait: float,
        retry: bool,
    ) -> None:
        self.run.calls_seen += 1
        if len(self.run.calls) >= MAX_CALLS:
            return
        label = event.model if isinstance(event, ev.LlmCall) else event.tool
        start = max(0.0, at - (took if took > 0 else 0.0))  # NaN: no time at all
        calls = self.run.calls
        index, task = len(calls), self._task_of(event)
        detail = _fields(event)
        calls.append(
            Call(
                index,
                kind,
                task,
                start,
                at,
                wait if wait > 0 else 0.0,
                label,
                event.status,
                detail,
                retry,
            )
        )

    def _on_state_write(self, event: ev.StateWrite, at: float) -> None:
        if len(self.run.writes) < MAX_CALLS:
            self.run.writes.append({"at": at, **_fields(event)})

    def _on_limit_hit(self, event: ev.LimitHitEvent, at: float) -> None:
        self._mark("limit", event, at, event.message)

    def _on_retry(self, event: ev.Retry, at: float) -> None:
        self._mark("retry", event, at, f"retry {event.what} #{event.attempt}: {event.reason}")

    def _on_rate_limited(self, event: ev.RateLimited, at: float) -> None:
        self._mark(
            "wait", event, at, f"waited {event.wait_s:.2f} s for {event.limit}: {event.reason}"
        )

    def _on_warning(self, event: ev.Warning_, at: float) -> None:
        self._mark("warning", event, at, event.message)

    def _on_history_trimmed(self, event: ev.HistoryTrimmed, at: float) -> None:
        text = f"history trimmed: {event.tokens_before} → {event.tokens_after} tokens"
        self._mark("trim", event, at, text)

    def _mark(self, kind: str, event: ev.Event, at: float, text: str) -> None:
        if len(self.run.marks) < MAX_CALLS or kind == "limit":
            self.run.marks.append(Mark(kind, at, self._task_of(event), text))


_ENVELOPE = {"v", "trace_id", "run_id"}


def _fields(event: ev.Event) -> dict[str, Any]:
    """The event's fields worth showing (set ones, without the ids every event repeats)."""
    data = event.model_dump(mode="json", exclude_none=True)
    return {k: v for k, v in data.items() if k not in _ENVELOPE}
