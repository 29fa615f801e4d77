"""What the tally keeps: per thread (one agent on one task in one trace), per repeated call or
failure, and per trace. The detectors judge these; `tally.Tally` fills them in one pass."""

from __future__ import annotations

import heapq
from typing import TypeVar

from msgspec import Struct, field

from mas_cli.events.formats.records import Limit
from mas_cli.triage.cycles import Cycle, Cycles
from mas_cli.triage.repeats import RunTracker
from mas_cli.triage.sums import Sums


class Thread(Sums):
    """One agent on one task in one trace: its sums, and what the detectors follow."""

    trace: str = ""
    task: str = ""
    first: int = 0
    last: int = 0
    model: str = ""
    outputs: RunTracker = field(default_factory=lambda: RunTracker(1))
    tools: RunTracker = field(default_factory=lambda: RunTracker(2))
    first_span: str = ""
    last_span: str = ""
    first_ts: str = ""
    last_ts: str = ""
    last_shape: str = ""
    output_varied: frozenset[str] = frozenset()
    """The volatile parts that differed between outputs that were otherwise the same."""


Spend = tuple[int, float, int, float]
"""A thread's running tokens and cost at a repeat's first call, and at its latest."""
DISTINCT = 8  # distinct outputs a repeat remembers: enough to tell "changes" from "the same"
SEEN_ONCE_KEPT = 4096
"""Calls (and failures) seen once that a trace remembers, the latest: one not made again within
that many distinct calls is no loop. A runaway run of fresh arguments stays bounded."""
SEEN_ONCE_BOUND = 2 * SEEN_ONCE_KEPT


class Repeat(Struct):
    """One call (or one failure) seen more than once in a trace."""

    agent: str
    task: str
    first: int
    count: int = 0
    last: int = 0
    output: str = ""
    same_output: bool = True
    outputs: set[str] = field(default_factory=set)
    """The distinct outputs seen, once they differ (up to DISTINCT)."""
    cached: int = 0
    """Calls the log says were answered from a cache."""
    spend: dict[tuple[str, str], Spend] = field(default_factory=dict)
    """Per thread (agent, task) that made the calls: its spend at its first and latest call."""
    error: str = ""
    first_span: str = ""
    last_span: str = ""
    first_ts: str = ""
    last_ts: str = ""
    shape: str = ""
    """The first call's volatile parts (see `volatile.summary`)."""
    varied: frozenset[str] = frozenset()
    """The volatile parts that differed between the calls."""

    def step(self, thread: Thread, loc: int, span: str, ts: str) -> None:
        """One more occurrence, made in `thread`."""
        self.count += 1
        self.last, self.last_span, self.last_ts = loc, span, ts
        key, tokens, cost = (thread.agent, thread.task), thread.tokens, thread.cost
        seen = self.spend.get(key)
        if seen is None:
            self.spend[key] = (tokens, cost, tokens, cost)
        else:
            self.spend[key] = (seen[0], seen[1], tokens, cost)

    @property
    def agents(self) -> tuple[str, ...]:
        """The agents that made the calls, in the order they first did."""
        return tuple(dict.fromkeys(agent for agent, _ in self.spend))

    @property
    def spent(self) -> tuple[int, float]:
        """Tokens and cost of those agents' own calls between the first and the last."""
        tokens = sum(s[2] - s[0] for s in self.spend.values())
        return tokens, sum(s[3] - s[1] for s in self.spend.values())


class Trace(Struct):
    """Everything about one trace (one run) the detectors look at."""

    trace: str
    first: int
    last: int = 0
    crew: str = ""
    run: str = ""
    """The run id, when the log names one apart from the trace id."""
    started: bool = False
    ended: bool = False
    status: str = ""
    tokens: int = 0
    cost: float = 0.0
    threads: dict[tuple[str, str], Thread] = field(default_factory=dict)
    calls: dict[tuple[str, str], Repeat] = field(default_factory=dict)
    failures: dict[tuple[str, str, str], Repeat] = field(default_factory=dict)
    bounds: list[int] = field(default_factory=lambda: [SEEN_ONCE_BOUND, SEEN_ONCE_BOUND])
    """The sizes of `calls` and `failures` at which those seen once are forgotten (`forget`)."""
    carriers: Cycles = field(default_factory=Cycles)
    cycles: list[Cycle] = field(default_factory=list)
    """The longest cycle of each set of agents, once the trace is closed (see `cycles.py`)."""
    limits: list[tuple[int, Limit]] = field(default_factory=list)
    last_agent: str = ""
    last_task: str = ""
    first_ts: str = ""
    last_ts: str = ""
    framework: str = ""
    """The framework that ran it ("" for mas or when the log does not say): advice speaks it."""
    every_call: bool = False
    """Its log records every model call (see `TraceStart.every_call`)."""


K = TypeVar("K")


def forget(repeats: dict[K, Repeat], bound: int) -> tuple[dict[K, Repeat], int]:
    """Past `bound` entries: every repeat, and the SEEN_ONCE_KEPT latest of those seen once; and
    the next bound (twice what is kept, so forgetting costs a constant a call)."""
    if len(repeats) < bound:
        return repeats, bound
    once = [(key, r) for key, r in repeats.items() if r.count == 1]
    dropped = {key for key, _ in heapq.nsmallest(len(once) - SEEN_ONCE_KEPT, once, key=_last)}
    kept = {key: r for key, r in repeats.items() if key not in dropped}
    return kept, max(SEEN_ONCE_BOUND, 2 * len(kept))


def _last(item: tuple[object, Repeat]) -> int:
    return item[1].last
