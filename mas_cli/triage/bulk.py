"""The fast path for our own logs: one tight pass over decoded lines, the tally only where needed.

Every line adds to the numbers of the table as it streams by (`sums.Sums`: per thread, an agent
on a task in a trace, its calls, turns, tokens and cost, and per agent and minute its
invocations), and notes a few facts about its trace (`sums.Signals`: a failed call, a model
output or a tool call seen twice, agent starts, handoffs, limit hits). A trace's lines are held
while it is read; at its end every registered detector's screen looks at its signals
(`detectors.could_fire`). A trace no screen picks is dropped; any other trace, and one held
too long, is replayed into the tally, and its later lines go there too: the tally stays the
reference for every finding, and `Tally(counts=False)` leaves the counting here. A state key
passed between agents as often as a cycle needs is one of the signals (`cycles.CycleScreen`).
"""

from __future__ import annotations

from itertools import groupby
from operator import attrgetter

from msgspec import field

from mas_cli.events.formats.mas import Line, to_record
from mas_cli.triage.cycles import CycleScreen
from mas_cli.triage.detectors import could_fire
from mas_cli.triage.report import AgentKey, AgentRow, add_threads
from mas_cli.triage.sums import MinuteKey, Rate, Signals, Sums, flush_minute
from mas_cli.triage.tally import Tally
from mas_cli.triage.thresholds import Thresholds

TRACE = attrgetter("trace_id")
HELD_LINES = 50_000
NO_THREAD = Sums()


class Pending(Signals):
    """A trace being read: its signals, and its lines while they are held."""

    folding: bool = False
    """Its lines go to the tally."""
    crew: str = ""
    records: int = 0
    held: list[tuple[int, list[Line]]] = field(default_factory=list)
    size: int = 0
    picked: bool = False
    """A screen picked it before its end: it goes to the tally now."""
    outputs: set[str] = field(default_factory=set)
    calls: set[tuple[str, str]] = field(default_factory=set)
    screen: CycleScreen | None = None
    """Made at the trace's first state write (most traces have none)."""


class Bulk:
    """Folds the lines of one part of a mas log: the table's numbers here, findings in `tally`."""

    def __init__(self, th: Thresholds) -> None:
        self.th = th
        self.tally = Tally(counts=False)
        self.pending: dict[str, Pending] = {}
        self.rows: dict[AgentKey, AgentRow] = {}
        self.starts_per_minute: dict[MinuteKey, Rate] = {}
        self.calls_per_minute: dict[MinuteKey, Rate] = {}
        self.records = 0
        self.traces: list[str] = []
        """The names of the traces read, in the order they ended."""
        self.unfinished: list[str] = []
        """The traces still open when the input ended."""

    def observe_all(self, base: int, lines: list[Line]) -> None:
        """A block of decoded lines, the i-th at loc `base + i`."""
        loc = base
        for name, group in groupby(lines, TRACE):
            part = list(group)
            while part:
                pending = self.pending.get(name)
                if pending is None:
                    pending = self.pending[name] = Pending(folding=not name)
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
            self._close(name, pending)

    def _route(self, pending: Pending, loc: int, part: list[Line]) -> None:
        if pending.folding:
            self.tally.observe_all(loc, list(map(to_record, part)))
            return
        pending.held.append((loc, part))
        pending.size += len(part)
        if pending.picked or pending.size > HELD_LINES:
            self._replay(pending)

    def _replay(self, pending: Pending) -> None:
        pending.folding = True
        for loc, part in pending.held:
            self.tally.observe_all(loc, list(map(to_record, part)))
        pending.held, pending.outputs, pending.calls, pending.screen = [], set(), set(), None

    def _close(self, name: str, pending: Pending) -> None:
        del self.pending[name]
        if pending.records:
            self.records += pending.records
            self.traces.append(name)
        add_threads(self.rows, pending.threads.values(), self.calls_per_minute)
        if not pending.folding and could_fire(pending, self.th):
            self._replay(pending)

    def _fold(self, pending: Pending, base: int, part: list[Line]) -> int:  # noqa: PLR0912, PLR0915
        """Add a trace's consecutive lines; how many were used (up to and with its end).

        One loop with no function call per line, hence its length: it runs for every line of
        the log, about half a microsecond each, and a call adds some 60 ns. A thread counts its
        calls in the minute it is in, and hands them to the per-minute counts when the minute
        changes or the trace ends (one dict look-up a minute, not one a call). The signals are
        noted only while the trace is held: when one changes (a failure, a repeat, a handoff, a
        limit hit: rare), the screens are asked at once, and once one picks the trace its
        lines go to the tally, which judges it.
        """
        signals, noting, crew, skipped = pending, not pending.folding, pending.crew, 0
        th, picks = self.th, could_fire
        threads, outputs, calls = signals.threads, pending.outputs, pending.calls
        screen = pending.screen
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
                        sums = threads[agent, task] = Sums(agent, crew)
                    last, last_agent, last_task = sums, agent, task
                else:
                    sums = last
                if kind == "tool_call":
                    sums.tool_calls += 1
                    if noting:
                        call = (line.tool, line.args_shape or line.args_digest)
                        if call in calls:
                            signals.repeated_call = True
                            noting = not picks(signals, th, midway=True)
                        else:
                            calls.add(call)
                        if line.status != "ok":
                            signals.failed = True
                            noting = not picks(signals, th, midway=True)
                    continue
                sums.calls += 1
                turn = line.turn
                if turn > sums.max_turn:  # noqa: PLR1730 (max() is a call, see above)
                    sums.max_turn = turn
                tokens = line.input_tokens
                sums.tokens += tokens + line.output_tokens
                sums.inputs.append(tokens)
                cost = line.cost_usd
                if cost is not None:
                    sums.cost += cost
                    sums.priced = True
                minute = line.ts[:16]
                if minute == sums.minute:
                    sums.minute_calls += 1
                    sums.minute_last = loc
                else:
                    if sums.minute_calls:
                        flush_minute(per_minute, sums)
                    sums.minute, sums.minute_calls = minute, 1
                    sums.minute_first = sums.minute_last = loc
                if noting:
                    output = line.output_shape or line.output_digest
                    if output:
                        if output in outputs:
                            signals.repeated_output = True
                            noting = not picks(signals, th, midway=True)
                        else:
                            outputs.add(output)
                    if line.status != "ok":
                        signals.failed = True
                        noting = not picks(signals, th, midway=True)
            elif kind == "task_started":
                agent, task = line.agent, line.task
                sums = threads.get((agent, task))
                if sums is None:
                    sums = threads[agent, task] = Sums(agent, crew)
                last, last_agent, last_task = sums, agent, task
                sums.starts += 1
                turn = line.turn
                if turn > sums.max_turn:  # noqa: PLR1730 (max() is a call, see above)
                    sums.max_turn = turn
                signals.starts += 1
                minute = line.ts[:16]
                if minute:
                    rate = starts_per_minute.get((crew, agent, minute))
                    if rate is None:
                        starts_per_minute[crew, agent, minute] = Rate(1, loc, loc)
                    else:
                        rate.count += 1
                        rate.last = loc
            elif kind == "run_finished":
                used = loc - base + 1
                signals.ended = True
                pending.records += used - skipped
                pending.picked = not noting and not pending.folding
                return used
            elif kind == "run_started":
                crew = pending.crew = line.crew
            elif kind == "handoff":
                signals.handoffs += 1
                if noting:
                    noting = not picks(signals, th, midway=True)
            elif kind == "limit_hit":
                signals.limits += 1
                if noting:
                    noting = not picks(signals, th, midway=True)
            elif kind == "state_write":
                if noting:
                    if screen is None:
                        screen = pending.screen = CycleScreen.of(th)
                    if screen.step("state\0" + line.key, line.agent):
                        signals.passed_state = True
                        noting = not picks(signals, th, midway=True)
            elif kind != "task_finished":
                skipped += 1
        pending.records += len(part) - skipped
        pending.picked = not noting and not pending.folding
        return len(part)
