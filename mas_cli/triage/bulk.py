"""The fast path: a trace that is plainly healthy is summed up in bulk, not folded record by record.

Records are held per trace (a block's consecutive records of one trace are one segment) until
the trace ends. Then a few checks in C-level builtins decide whether any detector could fire on
it: no limit, handoff or message; every call ok; no thread past the turns threshold or long
enough to judge token growth; no output and no tool call (with its arguments) seen twice; fewer
agent starts than a ping-pong needs. A trace that passes adds its threads to the agent rows and
its calls to the per-minute rates, exactly as the tally would; any other trace, and one held
too long, is replayed through the tally, which stays the reference for every finding.
"""

from __future__ import annotations

from collections import Counter
from itertools import groupby
from operator import attrgetter
from typing import Any

from mas_cli.events.formats.mas import Skipped
from mas_cli.events.formats.records import (
    AgentStart,
    ModelCall,
    TaskEnd,
    ToolCall,
    TraceEnd,
    TraceStart,
)
from mas_cli.triage.loops import steady_rise
from mas_cli.triage.report import AgentRow
from mas_cli.triage.tally import Rate, Tally, merge_rate
from mas_cli.triage.thresholds import Thresholds

Segment = tuple[int, list[Any]]
TRACE = attrgetter("trace")
THREAD = attrgetter("agent", "task")
STATUS = attrgetter("status")
TURN = attrgetter("turn")
CALL = attrgetter("name", "args")
COST = attrgetter("cost")
INPUT = attrgetter("input_tokens")
OUTPUT = attrgetter("output_tokens")
PLAIN = {TraceStart, AgentStart, ModelCall, ToolCall, TaskEnd, TraceEnd, Skipped}
HELD_RECORDS = 50_000


class Bulk:
    """Holds traces until they end; sums up the healthy ones, replays the rest into `tally`."""

    def __init__(self, tally: Tally, th: Thresholds, rows: dict[str, AgentRow]) -> None:
        self.tally, self.th, self.rows = tally, th, rows
        self.held: dict[str, list[Segment]] = {}
        self.sizes: Counter[str] = Counter()
        self.summed: list[str] = []
        # thresholds so low that a healthy-looking trace could still fire: fold everything
        self.enabled = th.monologue >= 2 and th.repeated_calls >= 2 and th.ping_pong >= 3

    def observe_all(self, base: int, records: list[Any]) -> None:
        """A block of records, the i-th at loc `base + i`."""
        if not self.enabled:
            self.tally.observe_all(base, records)
            return
        offset = 0
        for name, group in groupby(records, TRACE):
            part = list(group)
            self._segment(name, base + offset, part)
            offset += len(part)

    def _segment(self, name: str, loc: int, part: list[Any]) -> None:
        if not name or name in self.tally.open:  # no trace to hold it by, or already folding
            self.tally.observe_all(loc, part)
            return
        self.held.setdefault(name, []).append((loc, part))
        self.sizes[name] += len(part)
        if TraceEnd in set(map(type, part)):
            self._close(name)
        elif self.sizes[name] > HELD_RECORDS:
            self._replay(name)

    def finish(self) -> None:
        """The input ended: replay every trace still held (they never finished)."""
        for name in list(self.held):
            self._replay(name)

    def _replay(self, name: str) -> None:
        self.sizes.pop(name, None)
        for loc, part in self.held.pop(name):
            self.tally.observe_all(loc, part)

    def _close(self, name: str) -> None:
        records = [r for _, part in self.held[name] for r in part]
        if name and healthy(records, self.th):
            self._sum_up(self.held.pop(name), records)
            self.sizes.pop(name, None)
            self.summed.append(name)
        else:
            self._replay(name)

    def _sum_up(self, segments: list[Segment], records: list[Any]) -> None:
        locs = [loc + i for loc, part in segments for i in range(len(part))]
        self.tally.records += len(records) - sum(1 for r in records if type(r) is Skipped)
        models = [(loc, r) for loc, r in zip(locs, records, strict=True) if type(r) is ModelCall]
        starts = [(loc, r) for loc, r in zip(locs, records, strict=True) if type(r) is AgentStart]
        tools = Counter(THREAD(r) for r in records if type(r) is ToolCall)
        _add_minutes(self.tally.calls_per_minute, models)
        _add_minutes(self.tally.starts_per_minute, starts)
        calls = _by_thread([r for _, r in models])
        started = _by_thread([r for _, r in starts])
        for key in {*calls, *started, *tools}:
            model_calls, agent_starts = calls.get(key, []), started.get(key, [])
            _add_row(self.rows, key[0], model_calls, tools[key], agent_starts)


def healthy(records: list[Any], th: Thresholds) -> bool:
    """Whether no detector can fire on this closed trace (conservatively: when unsure, False)."""
    kinds = Counter(map(type, records))
    plain = not kinds.keys() - PLAIN and kinds[TraceStart] == kinds[TraceEnd] == 1
    if not plain or kinds[AgentStart] >= th.ping_pong:
        return False
    models = [r for r in records if type(r) is ModelCall]
    tools = [r for r in records if type(r) is ToolCall]
    started = [r for r in records if type(r) is AgentStart]
    return (
        not set(map(STATUS, models)) - {"ok"}
        and not set(map(STATUS, tools)) - {"ok"}
        and _turns_within(models, started, th)
        and _distinct([r.output for r in models if r.output])
        and _distinct(list(map(CALL, tools)))
    )


def _turns_within(models: list[ModelCall], started: list[AgentStart], th: Thresholds) -> bool:
    per_thread = Counter(map(THREAD, models))
    starts = Counter(map(THREAD, started))
    most = max(*per_thread.values(), *starts.values(), *map(TURN, models), *map(TURN, started), 0)
    return most <= th.turns and not _may_grow(models, per_thread, th)


def _distinct(items: list[Any]) -> bool:
    return len(set(items)) == len(items)


def _may_grow(
    models: list[ModelCall], per_thread: Counter[tuple[str, str]], th: Thresholds
) -> bool:
    """Whether a thread long enough to judge has input tokens rising fast enough to report."""
    long = {key for key, calls in per_thread.items() if calls >= max(2, th.growth_turns)}
    return any(
        steady_rise([m.input_tokens for m in models if THREAD(m) == key], th) is not None
        for key in long
    )


def _by_thread(records: list[Any]) -> dict[tuple[str, str], list[Any]]:
    return {key: list(group) for key, group in groupby(sorted(records, key=THREAD), THREAD)}


def _add_minutes(rates: dict[tuple[str, str], Rate], located: list[tuple[int, Any]]) -> None:
    """Per (agent, minute): how many, and the locs of the first and last (as the tally counts)."""
    keys = [(r.agent, r.ts[:16]) for _, r in located]
    locs = [loc for loc, _ in located]
    first = dict(zip(reversed(keys), reversed(locs), strict=True))
    last = dict(zip(keys, locs, strict=True))
    for key, count in Counter(keys).items():
        if key[1]:
            merge_rate(rates, key, Rate(count, first[key], last[key]))


def _add_row(
    rows: dict[str, AgentRow],
    agent: str,
    calls: list[ModelCall],
    tools: int,
    starts: list[AgentStart],
) -> None:
    """One thread into its agent's row, as `report.add_trace` adds a tallied thread."""
    costs = [c for c in map(COST, calls) if c is not None]
    turn = max(max(map(TURN, calls), default=0), max(map(TURN, starts), default=0))
    turns = turn or len(calls) or len(starts)
    row = rows.setdefault(agent, AgentRow(agent))
    row.calls += len(calls)
    row.tool_calls += tools
    row.threads += 1
    row.turns_max = max(row.turns_max, turns)
    row.turns_total += turns
    row.tokens += sum(map(INPUT, calls)) + sum(map(OUTPUT, calls))
    row.cost += sum(costs)
    row.priced = row.priced or bool(costs)
