"""The fast path for our own logs: one tight pass over decoded lines, the tally only where needed.

Every line adds to the numbers of the table as it streams by: per thread (an agent on a task in
a trace) its calls, turns, tokens and cost, and per agent and minute its invocations. While a
trace reads as healthy, its lines are held, and a few checks on the same pass tell whether any
detector could fire on it: no limit or handoff; every call ok; no thread past the turns
threshold; no model output and no tool call (with its arguments) seen twice; fewer agent starts
than a ping-pong needs; and, at its end, no thread long enough whose input tokens rise
steadily. A healthy trace's held lines are dropped at its end. Any other
trace, and one held too long, is replayed into the tally, and its later lines go there too: the
tally stays the reference for every finding, and `Tally(counts=False)` leaves the counting here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby
from operator import attrgetter

from mas_cli.events.formats.mas import Line, to_record
from mas_cli.triage.loops import steady_rise
from mas_cli.triage.report import AgentRow
from mas_cli.triage.tally import Rate, Tally
from mas_cli.triage.thresholds import Thresholds

TRACE = attrgetter("trace_id")
HELD_LINES = 50_000


@dataclass(slots=True)
class Sums:
    """One thread's numbers for the table, and its input tokens per call."""

    calls: int = 0
    tool_calls: int = 0
    starts: int = 0
    max_turn: int = 0
    tokens: int = 0
    cost: float = 0.0
    priced: bool = False
    inputs: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Pending:
    """A trace being read."""

    healthy: bool
    folding: bool = False
    """Its lines go to the tally."""
    records: int = 0
    starts: int = 0
    held: list[tuple[int, list[Line]]] = field(default_factory=list)
    size: int = 0
    threads: dict[tuple[str, str], Sums] = field(default_factory=dict)
    outputs: set[str] = field(default_factory=set)
    calls: set[tuple[str, str]] = field(default_factory=set)


class Bulk:
    """Folds the lines of one part of a mas log: the table's numbers here, findings in `tally`."""

    def __init__(self, th: Thresholds) -> None:
        self.th = th
        self.tally = Tally(counts=False)
        self.pending: dict[str, Pending] = {}
        self.rows: dict[str, AgentRow] = {}
        self.starts_per_minute: dict[tuple[str, str], Rate] = {}
        self.calls_per_minute: dict[tuple[str, str], Rate] = {}
        self.records = 0
        self.traces: list[str] = []
        """The names of the traces read, in the order they ended."""
        self.unfinished: list[str] = []
        """The traces still open when the input ended."""
        # thresholds so low that a healthy-looking trace could still fire: fold everything
        self.enabled = th.monologue >= 2 and th.repeated_calls >= 2 and th.ping_pong >= 3

    def observe_all(self, base: int, lines: list[Line]) -> None:
        """A block of decoded lines, the i-th at loc `base + i`."""
        loc = base
        for name, group in groupby(lines, TRACE):
            part = list(group)
            while part:
                pending = self.pending.get(name)
                if pending is None:
                    pending = self.pending[name] = Pending(self.enabled and bool(name))
                used = self._fold(pending, loc, part)
                self._route(pending, loc, part[:used] if used < len(part) else part)
                if part[used - 1].type == "run_finished":
                    self._close(name, pending)
                loc += used
                part = part[used:]

    def finish(self) -> None:
        """The input ended: every trace still pending ends as it stands."""
        self.unfinished = [name for name, pending in self.pending.items() if pending.records]
        for name, pending in list(self.pending.items()):
            if not pending.folding and pending.held:
                self._replay(pending)
            self._close(name, pending)

    def _route(self, pending: Pending, loc: int, part: list[Line]) -> None:
        if pending.folding:
            self.tally.observe_all(loc, list(map(to_record, part)))
            return
        pending.held.append((loc, part))
        pending.size += len(part)
        if not pending.healthy or pending.size > HELD_LINES:
            self._replay(pending)

    def _replay(self, pending: Pending) -> None:
        pending.folding, pending.healthy = True, False
        for loc, part in pending.held:
            self.tally.observe_all(loc, list(map(to_record, part)))
        pending.held, pending.outputs, pending.calls = [], set(), set()

    def _close(self, name: str, pending: Pending) -> None:
        del self.pending[name]
        if not pending.folding and not self._stays_healthy(pending):
            self._replay(pending)
        if pending.records:
            self.records += pending.records
            self.traces.append(name)
            self._add_rows(pending)

    def _stays_healthy(self, pending: Pending) -> bool:
        long = max(2, self.th.growth_turns)
        return not any(
            len(sums.inputs) >= long and steady_rise(sums.inputs, self.th) is not None
            for sums in pending.threads.values()
        )

    def _add_rows(self, pending: Pending) -> None:
        """The trace's threads into their agents' rows, as `report.add_trace` adds them."""
        rows = self.rows
        for (agent, _), sums in pending.threads.items():
            turns = sums.max_turn or sums.calls or sums.starts
            row = rows.get(agent)
            if row is None:
                row = rows[agent] = AgentRow(agent)
            row.calls += sums.calls
            row.tool_calls += sums.tool_calls
            row.threads += 1
            row.turns_max = max(row.turns_max, turns)
            row.turns_total += turns
            row.tokens += sums.tokens
            row.cost += sums.cost
            row.priced = row.priced or sums.priced

    def _fold(self, pending: Pending, loc: int, part: list[Line]) -> int:  # noqa: PLR0912, PLR0915
        """Add a trace's consecutive lines; how many were used (up to and with its end).

        One loop with no function call per line, hence its length: it runs for every line of
        the log, 1 to 2 µs each, and a call adds some 60 ns.
        """
        most, starts_limit = self.th.turns, self.th.ping_pong
        threads, outputs, calls = pending.threads, pending.outputs, pending.calls
        healthy, records = pending.healthy, pending.records
        per_minute = self.calls_per_minute  # locs only grow within one part of a log
        for used, line in enumerate(part, 1):
            kind = line.type
            if kind == "llm_call":
                records += 1
                key = (line.agent, line.task)
                sums = threads.get(key)
                if sums is None:
                    sums = threads[key] = Sums()
                sums.calls += 1
                turn = line.turn
                sums.max_turn = max(sums.max_turn, turn)
                tokens = line.input_tokens
                sums.tokens += tokens + line.output_tokens
                cost = line.cost_usd
                if cost is not None:
                    sums.cost += cost
                    sums.priced = True
                minute = (line.agent, line.ts[:16])
                rate = per_minute.get(minute)
                if rate is None:
                    if minute[1]:
                        per_minute[minute] = Rate(1, loc, loc)
                else:
                    rate.count += 1
                    rate.last = loc
                if healthy:
                    sums.inputs.append(tokens)
                    output = line.output_digest
                    if line.status != "ok" or turn > most or sums.calls > most or output in outputs:
                        healthy = False
                    elif output:
                        outputs.add(output)
            elif kind == "tool_call":
                records += 1
                key = (line.agent, line.task)
                sums = threads.get(key)
                if sums is None:
                    sums = threads[key] = Sums()
                sums.tool_calls += 1
                if healthy:
                    call = (line.tool, line.args_digest)
                    if line.status != "ok" or call in calls:
                        healthy = False
                    calls.add(call)
            elif kind == "task_started":
                records += 1
                key = (line.agent, line.task)
                sums = threads.get(key)
                if sums is None:
                    sums = threads[key] = Sums()
                sums.starts += 1
                sums.max_turn = max(sums.max_turn, line.turn)
                pending.starts += 1
                _count(self.starts_per_minute, (line.agent, line.ts[:16]), loc)
                if sums.starts > most or line.turn > most or pending.starts >= starts_limit:
                    healthy = False
            elif kind in ("task_finished", "run_started"):
                records += 1
            elif kind == "run_finished":
                records += 1
                pending.healthy, pending.records = healthy, records
                return used
            elif kind in ("handoff", "limit_hit"):
                records += 1
                healthy = False
            loc += 1
        pending.healthy, pending.records = healthy, records
        return len(part)


def _count(rates: dict[tuple[str, str], Rate], key: tuple[str, str], loc: int) -> None:
    """One invocation in an agent's minute (locs only grow within one part of a log)."""
    if not key[1]:
        return
    rate = rates.get(key)
    if rate is None:
        rates[key] = Rate(1, loc, loc)
    else:
        rate.count += 1
        rate.last = loc
