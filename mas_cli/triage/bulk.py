"""The fast path for our own logs: one tight pass over decoded lines, the tally only where needed.

Every line adds to the numbers of the table as it streams by: per thread (an agent on a task in
a trace) its calls, turns, tokens and cost, and per agent and minute its invocations. While a
trace reads as healthy, its lines are held, and a few checks on the same pass tell whether any
detector could fire on it: no limit or handoff; every call ok; no thread past the turns
threshold; no model output and no tool call (with its arguments) seen twice; fewer agent
starts than a ping-pong or a cycle needs, and no state key passed between agents as often as
one needs (`cycles.CycleScreen`; a tool carries one only with repeated calls); and, at its
end, no thread long enough whose input tokens rise steadily. A healthy trace's held lines are
dropped at its end. Any other trace, and one held too long, is replayed into the tally, and its
later lines go there too: the tally stays the reference for every finding, and
`Tally(counts=False)` leaves the counting here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby
from operator import attrgetter

from mas_cli.events.formats.mas import Line, to_record
from mas_cli.triage.cycles import CycleScreen, min_steps
from mas_cli.triage.loops import steady_rise
from mas_cli.triage.report import AgentRow
from mas_cli.triage.tally import Rate, Tally, add_rate
from mas_cli.triage.thresholds import Thresholds

TRACE = attrgetter("trace_id")
HELD_LINES = 50_000


@dataclass(slots=True)
class Sums:
    """One thread's numbers for the table, its calls in its current minute, its input tokens."""

    agent: str
    calls: int = 0
    tool_calls: int = 0
    starts: int = 0
    max_turn: int = 0
    tokens: int = 0
    cost: float = 0.0
    priced: bool = False
    minute: str = ""
    minute_calls: int = 0
    minute_first: int = 0
    minute_last: int = 0
    inputs: list[int] = field(default_factory=list)


NO_THREAD = Sums("")


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
    screen: CycleScreen = field(default_factory=lambda: CycleScreen(0, 0))


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
        self.cycle_steps = min_steps(th)

    def observe_all(self, base: int, lines: list[Line]) -> None:
        """A block of decoded lines, the i-th at loc `base + i`."""
        loc = base
        for name, group in groupby(lines, TRACE):
            part = list(group)
            while part:
                pending = self.pending.get(name)
                if pending is None:
                    pending = self.pending[name] = Pending(
                        self.enabled and bool(name), screen=CycleScreen.of(self.th)
                    )
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
        pending.screen = CycleScreen(0, 0)

    def _close(self, name: str, pending: Pending) -> None:
        del self.pending[name]
        if pending.records:
            self.records += pending.records
            self.traces.append(name)
        if not self._add_threads(pending) and not pending.folding:
            self._replay(pending)

    def _add_threads(self, pending: Pending) -> bool:
        """The trace's threads into their agents' rows (as `report.add_trace` adds them) and
        their last minutes into the per-minute counts; whether no thread's input rises steadily.
        """
        rows, per_minute, th = self.rows, self.calls_per_minute, self.th
        long, steady = max(2, th.growth_turns), True
        for sums in pending.threads.values():
            agent = sums.agent
            if sums.minute_calls and sums.minute:
                key, count = (agent, sums.minute), sums.minute_calls
                add_rate(per_minute, key, count, sums.minute_first, sums.minute_last)
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
            if steady and len(sums.inputs) >= long and steady_rise(sums.inputs, th) is not None:
                steady = False
        return steady

    def _fold(self, pending: Pending, base: int, part: list[Line]) -> int:  # noqa: PLR0912, PLR0915
        """Add a trace's consecutive lines; how many were used (up to and with its end).

        One loop with no function call per line, hence its length: it runs for every line of
        the log, about half a microsecond each, and a call adds some 60 ns. A thread counts its
        calls in the minute it is in, and hands them to the per-minute counts when the minute
        changes or the trace ends (one dict look-up a minute, not one a call).
        """
        most, starts_limit = self.th.turns, self.cycle_steps
        threads, outputs, calls = pending.threads, pending.outputs, pending.calls
        screen = pending.screen
        healthy, skipped = pending.healthy, 0
        per_minute, starts_per_minute = self.calls_per_minute, self.starts_per_minute
        # the thread of the line before, compared first: a call and its tool call share one
        last, last_agent, last_task = NO_THREAD, None, None
        for loc, line in enumerate(part, base):
            kind = line.type
            if kind == "llm_call" or kind == "tool_call":  # noqa: PLR1714 (faster)
                agent, task = line.agent, line.task
                if agent != last_agent or task != last_task:
                    sums = threads.get((agent, task))
                    if sums is None:
                        sums = threads[agent, task] = Sums(agent)
                    last, last_agent, last_task = sums, agent, task
                else:
                    sums = last
                if kind == "tool_call":
                    sums.tool_calls += 1
                    if healthy:
                        call = (line.tool, line.args_shape or line.args_digest)
                        if line.status != "ok" or call in calls:
                            healthy = False
                        calls.add(call)
                    continue
                count = sums.calls = sums.calls + 1
                turn = line.turn
                if turn > sums.max_turn:  # noqa: PLR1730 (max() is a call, see above)
                    sums.max_turn = turn
                tokens = line.input_tokens
                sums.tokens += tokens + line.output_tokens
                cost = line.cost_usd
                if cost is not None:
                    sums.cost += cost
                    sums.priced = True
                minute = line.ts[:16]
                if minute == sums.minute:
                    sums.minute_calls += 1
                    sums.minute_last = loc
                else:
                    if sums.minute_calls and sums.minute:
                        key, made = (sums.agent, sums.minute), sums.minute_calls
                        add_rate(per_minute, key, made, sums.minute_first, sums.minute_last)
                    sums.minute, sums.minute_calls = minute, 1
                    sums.minute_first = sums.minute_last = loc
                if healthy:
                    sums.inputs.append(tokens)
                    output = line.output_digest
                    if line.status != "ok" or turn > most or count > most or output in outputs:
                        healthy = False
                    elif output:
                        outputs.add(output)
            elif kind == "task_started":
                agent, task = line.agent, line.task
                sums = threads.get((agent, task))
                if sums is None:
                    sums = threads[agent, task] = Sums(agent)
                last, last_agent, last_task = sums, agent, task
                sums.starts += 1
                turn = line.turn
                if turn > sums.max_turn:  # noqa: PLR1730 (max() is a call, see above)
                    sums.max_turn = turn
                pending.starts += 1
                minute = line.ts[:16]
                if minute:
                    rate = starts_per_minute.get((agent, minute))
                    if rate is None:
                        starts_per_minute[agent, minute] = Rate(1, loc, loc)
                    else:
                        rate.count += 1
                        rate.last = loc
                if sums.starts > most or turn > most or pending.starts >= starts_limit:
                    healthy = False
            elif kind == "run_finished":
                used = loc - base + 1
                pending.healthy, pending.records = healthy, pending.records + used - skipped
                return used
            elif kind == "task_finished" or kind == "run_started":  # noqa: PLR1714 (faster)
                pass
            elif kind == "handoff" or kind == "limit_hit":  # noqa: PLR1714
                healthy = False
            elif kind == "state_write":
                if healthy and screen.step("state\0" + line.key, line.agent):
                    healthy = False
            else:
                skipped += 1
        pending.healthy, pending.records = healthy, pending.records + len(part) - skipped
        return len(part)
