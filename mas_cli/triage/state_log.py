"""How a run wrote its shared state: conflicts, lost updates, undeclared writers, last writers.

Reads the `state_write` events of one run log (accepted or refused, with the version each
writer read), in log order, and what orders the writers: each `task_started`'s `depends_on`
and the run's process (`run_started`, which also names the crew file). The structs below name
the writer's fields again (for speed); tests/test_triage_schema.py holds them to its models.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from mas_cli.errors import LogFormatError
from mas_cli.events.formats.lines import NumberedLines
from mas_cli.events.formats.source import skip_bom
from mas_cli.events.logged import NOT_WRITTEN
from mas_cli.records import replace
from mas_cli.triage.state import Schema, StateProblem


class Write(msgspec.Struct, frozen=True):
    """One state_write event, as the triage reads it."""

    key: str
    writer: str
    read_version: int = 0
    version: int | None = None
    accepted: bool = True
    reason: str | None = None
    agent: str | None = None
    value: Any = None


class _Event(msgspec.Struct):
    type: str = ""
    task: str | None = None
    depends_on: list[str] = []
    crew_path: str | None = None
    crew: str | None = None
    process: str | None = None


_TYPE = msgspec.json.Decoder(_Event)
_WRITE = msgspec.json.Decoder(Write)
_MARKS = (b'"state_write"', b'"task_started"', b'"run_started"')


@dataclass(frozen=True)
class Located:
    """A write and the line it is on."""

    line: int
    write: Write


@dataclass
class RunLog:
    """What a run log says about its state writes: the writes, and what orders the writers."""

    writes: list[Located] = field(default_factory=list)
    depends_on: dict[str, set[str]] = field(default_factory=dict)
    """Each task's direct dependencies, as its task_started event gives them."""
    process: str | None = None
    crew_path: str | None = None
    """The crew file as run_started names it (as given to `mas run`, maybe relative)."""
    crew: str | None = None
    """The crew's name."""


def read_writes(path: Path) -> list[Located]:
    """The state writes of a run log, in order (lines that are not events are skipped).

    Raises:
        LogFormatError: the log cannot be read.
    """
    return read_run_log(path).writes


def read_run_log(path: Path) -> RunLog:
    """The state writes of a run log, its tasks' dependencies, its process and crew file.

    Raises:
        LogFormatError: the log cannot be read.
    """
    log = RunLog()
    try:
        with path.open("rb") as handle:
            for number, line in NumberedLines(skip_bom(handle)):
                if line is not None and any(mark in line for mark in _MARKS):
                    _note(log, number, line)  # None: a line past the bound
    except OSError as exc:
        raise LogFormatError(f"{path}: the run log cannot be read ({exc.strerror})") from None
    return log


def _note(log: RunLog, number: int, line: bytes) -> None:
    try:
        event = _TYPE.decode(line)
        if event.type == "state_write":
            log.writes.append(Located(number, _WRITE.decode(line)))
        elif event.type == "task_started" and event.task:
            log.depends_on.setdefault(event.task, set()).update(event.depends_on)
        elif event.type == "run_started" and log.process is None:
            log.process, log.crew_path, log.crew = event.process, event.crew_path, event.crew
    except (msgspec.DecodeError, RecursionError):  # too deep to decode is bad too
        return


@dataclass(frozen=True)
class Order:
    """Which tasks run after which: the depends_on graph (transitively), or file order."""

    depends_on: dict[str, set[str]] = field(default_factory=dict)
    sequential: bool = False

    def after(self, earlier: str, later: str) -> bool:
        """Whether task `later` can only start once task `earlier` has finished."""
        if self.sequential:
            return True  # one task at a time, in file order: a later write comes after
        seen, todo = set(), list(self.depends_on.get(later, ()))
        while todo:
            task = todo.pop()
            if task == earlier:
                return True
            if task not in seen:
                seen.add(task)
                todo.extend(self.depends_on.get(task, ()))
        return False


def check_writes(
    writes: list[Located], schema: Schema, source: str, order: Order | None = None
) -> list[StateProblem]:
    """Refused and conflicting writes, lost updates and writes by undeclared tasks.

    Two tasks writing one key conflict unless `order` runs the second after the first.
    """
    problems: list[StateProblem] = []
    current: dict[str, Located] = {}
    for located in writes:
        before = current.get(located.write.key)
        problems.extend(_one_write(located, before, schema, source, order or Order()))
        if located.write.accepted:
            current[located.write.key] = located
    return problems


def _one_write(
    at: Located, before: Located | None, schema: Schema, source: str, order: Order
) -> Iterator[StateProblem]:
    w, where = at.write, f"{source}:{at.line}"
    reason = w.reason or ""
    if reason.startswith(NOT_WRITTEN):  # the refusal that undid it is reported on its own
        return
    if not w.accepted and "conflict" in reason:
        yield StateProblem(
            w.key,
            "conflict",
            f"{w.key}: write by task {w.writer} refused: {reason}",
            _CONFLICT_FIX,
            w.writer,
            where,
        )
    elif not w.accepted and "does not declare" in reason:
        yield _undeclared(w, where)
    elif not w.accepted:
        yield StateProblem(
            w.key,
            "refused",
            f"{w.key}: write by task {w.writer} refused: {reason}",
            "make the writer's output satisfy the key's schema",
            w.writer,
            where,
        )
    elif schema.writers is not None and w.writer not in schema.writers.get(w.key, frozenset()):
        yield _undeclared(w, where)
    if w.accepted and before is not None:
        yield from _lost_or_shared(at, before, where, order)


def _lost_or_shared(
    at: Located, before: Located, where: str, order: Order
) -> Iterator[StateProblem]:
    w, prev = at.write, before.write
    if prev.version is not None and w.read_version < prev.version:
        yield StateProblem(
            w.key,
            "lost_update",
            f"{w.key}: task {w.writer} replaced version {prev.version} (written by task "
            f"{prev.writer} at line "
            f"{before.line}) without reading it; it read version {w.read_version}",
            _CONFLICT_FIX,
            w.writer,
            where,
        )
    elif prev.writer != w.writer and not order.after(prev.writer, w.writer):
        yield StateProblem(
            w.key,
            "conflict",
            f"{w.key}: written by task {prev.writer} (line {before.line}) and then by task "
            f"{w.writer}: "
            "the last one wins",
            "give the key one writer, or make the second task depend_on the first and read the key",
            w.writer,
            where,
        )


_CONFLICT_FIX = (
    "make the second writer depend_on the first (depends_on:) so it reads the latest version"
)


def _undeclared(w: Write, where: str) -> StateProblem:
    return StateProblem(
        w.key,
        "undeclared_writer",
        f"{w.key}: written by task {w.writer}, which does not declare it in writes:",
        f"add {w.key} to task {w.writer}'s writes:, or stop the task writing it",
        w.writer,
        where,
    )


def last_writers(
    writes: list[Located], problems: list[StateProblem], source: str
) -> list[StateProblem]:
    """Each snapshot problem with the task that last wrote its key, and where."""
    last = {at.write.key: at for at in writes if at.write.accepted}
    out = []
    for problem in problems:
        at = last.get(problem.key)
        if at is not None and not problem.where:
            where = f"{source}:{at.line}"
            out.append(replace(problem, writer=at.write.writer, where=where))
        else:
            out.append(problem)
    return out
