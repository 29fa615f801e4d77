"""The loops report: a row per agent, the findings, what could not be read, and where lines are."""

from __future__ import annotations

from collections.abc import Iterable

from msgspec import Struct, field

from mas_cli.events.formats import CHAT_FORMATS
from mas_cli.events.formats.records import split_loc
from mas_cli.events.formats.source import BadLines
from mas_cli.triage.findings import Finding, Findings
from mas_cli.triage.sums import MinuteKey, Rate, Sums, flush_minute
from mas_cli.triage.traces import Trace

AgentKey = tuple[str, str]
"""(crew, agent): agents of different crews that share a name are different agents."""


class AgentRow(Struct):
    """One agent (of one crew) across the whole log."""

    agent: str
    crew: str = ""
    calls: int = 0
    tool_calls: int = 0
    threads: int = 0
    turns_max: int = 0
    turns_total: int = 0
    tokens: int = 0
    uncounted: int = 0
    """Its model calls whose token counts the log did not give."""
    cost: float = 0.0
    priced: bool = False
    findings: int = 0
    partial: bool = False
    """Some of its log may leave model calls out (see `Sums.partial`)."""

    @property
    def counted(self) -> bool:
        """Whether its tokens are known: some model call gave counts, or it made none in a
        log that records every call."""
        return self.uncounted < self.calls or not (self.calls or self.partial)

    @property
    def turns_mean(self) -> float:
        """Mean turns per task (per thread)."""
        return self.turns_total / self.threads if self.threads else 0.0

    def absorb(self, other: AgentRow) -> None:
        """Add another part of the log's row for the same agent."""
        self.calls += other.calls
        self.tool_calls += other.tool_calls
        self.threads += other.threads
        self.turns_max = max(self.turns_max, other.turns_max)
        self.turns_total += other.turns_total
        self.tokens += other.tokens
        self.uncounted += other.uncounted
        self.cost += other.cost
        self.priced = self.priced or other.priced
        self.partial = self.partial or other.partial


def add_trace(rows: dict[AgentKey, AgentRow], trace: Trace) -> None:
    """Fold a closed trace's threads into the per-agent rows."""
    add_threads(rows, trace.threads.values())


def add_threads(
    rows: dict[AgentKey, AgentRow],
    threads: Iterable[Sums],
    per_minute: dict[MinuteKey, Rate] | None = None,
) -> None:
    """Fold one closed trace's threads into the rows of their agents (each thread counts as a
    task), and, given `per_minute`, their calls in their last minute into the per-minute counts.

    Run for every trace of a log, hence one loop with few calls.
    """
    for sums in threads:
        if per_minute is not None and sums.minute_calls:
            flush_minute(per_minute, sums)
        if not (sums.calls or sums.tool_calls or sums.starts):
            continue
        key = (sums.crew, sums.agent)
        row = rows.get(key)
        if row is None:
            row = rows[key] = AgentRow(sums.agent, sums.crew)
        turns = sums.max_turn or sums.calls or sums.starts  # Sums.turns, without the call
        row.calls += sums.calls
        row.tool_calls += sums.tool_calls
        row.threads += 1
        if turns > row.turns_max:  # noqa: PLR1730 (max() is a call)
            row.turns_max = turns
        row.turns_total += turns
        row.tokens += sums.tokens
        row.uncounted += sums.uncounted
        row.cost += sums.cost
        if sums.priced:
            row.priced = True
        if sums.partial:
            row.partial = True


class Unit(Struct, frozen=True):
    """A unit of locs: a file, or a part of one that starts at `first_line`."""

    source: str
    first_line: int


class Input(Struct, frozen=True):
    """What one input was read as, and how much of it could be read."""

    path: str
    fmt: str
    records: int
    lines: int
    """Its lines that are not blank (read or skipped)."""
    skipped: int
    cut_short: bool = False
    """A JSON document whose reading stopped with more of it unread than read."""
    ended_early: bool = False
    """A compressed input whose stream ended before its end (a gzip file cut short)."""

    @property
    def unreadable(self) -> bool:
        """Most of it could not be read: more than half its lines skipped, or no record at all
        from lines that are there. Its verdict cannot be "clean". A JSON document read a record
        at a time counts no lines: its records and skipped entries stand for them, and one cut
        short (see `cut_short`) is unreadable too."""
        units = self.lines or self.records + self.skipped
        return self.cut_short or self.skipped * 2 > units or (self.records == 0 and units > 0)


class LoopReport(Struct):
    """Everything `mas triage loops` prints."""

    sources: list[tuple[str, str]] = field(default_factory=list)
    inputs: list[Input] = field(default_factory=list)
    agents: list[AgentRow] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    bad: BadLines = field(default_factory=BadLines)
    records: int = 0
    traces: int = 0
    units: dict[int, Unit] = field(default_factory=dict)
    found: int = 0
    """Findings in all (`findings` may hold only the costliest)."""
    worst_rank: int = 0

    @property
    def crews(self) -> list[str]:
        """The crews the agents belong to ("" for a log that names none), when more than one."""
        crews = sorted({row.crew for row in self.agents})
        return crews if len(crews) > 1 else []

    def where(self, loc: int) -> str:
        """`file:line` of a loc."""
        unit, line = split_loc(loc)
        known = self.units.get(unit)
        if known is None:
            return f"?:{line}"
        return f"{known.source}:{known.first_line + line - 1}"

    def in_records(self, loc: int) -> bool:
        """Whether a loc counts records, not lines: a transcript read as one JSON document
        (the loc's line is its record's number, see `chats.py`)."""
        known = self.units.get(split_loc(loc)[0])
        return known is not None and any(
            i.path == known.source and i.fmt in CHAT_FORMATS and not i.lines for i in self.inputs
        )

    def line(self, loc: int) -> int:
        """The line number of a loc in its file."""
        unit, line = split_loc(loc)
        known = self.units.get(unit)
        return known.first_line + line - 1 if known else line

    def unreadable(self) -> list[Input]:
        """The inputs most of which could not be read."""
        return [i for i in self.inputs if i.unreadable]

    def verdict(self) -> str:
        """unreadable, findings or clean."""
        return "unreadable" if self.unreadable() else "findings" if self.found else "clean"

    def worst(self) -> int:
        """The rank of the worst finding (0 when there is none)."""
        return self.worst_rank


def finalize(report: LoopReport, rows: dict[AgentKey, AgentRow], found: Findings) -> LoopReport:
    """Rank the findings, count them per agent, and order the agents by spend."""
    report.findings, report.found, report.worst_rank = found.ranked(), found.count, found.worst
    for key, row in rows.items():
        row.findings = found.per_agent.get(key, 0)
    report.agents = sorted(
        rows.values(), key=lambda r: (-r.cost, -r.tokens, -r.calls, r.agent, r.crew)
    )
    return report
