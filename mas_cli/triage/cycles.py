"""Cycles among agents: A, then B, then C, then A again, round after round, on one carrier.

A carrier is what passes between the agents: work handed over (handoffs, delegations), a tool
they all call (once a call of it repeats: new arguments each time are new work), a shared-state
key they all write, or, when nothing else is logged, the agents' invocations. Per trace and per
carrier, the agents acting on it form a sequence (an agent acting several times running counts
once); a cycle is a stretch of it with period k (2 to MAX_PERIOD) whose k agents are all
different: `a b c a b c a ...`. The two-agent case is ping-pong.

Two halves, as every detector has: `CycleScreen`, the cheap per-line test the fast path runs
(could this trace hold a cycle?), and `Cycles`, fed by the tally, judged on the closed trace by
`loops` and `findings`: one finding per loop (agents looping together), on the carrier that
shows it longest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final, TypeAlias

from msgspec import Struct, field

from mas_cli.records import replace
from mas_cli.triage.findings import Finding, severity
from mas_cli.triage.repeats import Spent
from mas_cli.triage.thresholds import Thresholds

MAX_PERIOD = 6
"""The most agents a cycle is looked for among."""
MAX_CARRIERS = 64
"""Carriers tracked per trace (a hostile log may name a new tool on every line)."""
HANDOFFS, INVOCATIONS = "handoffs", "invocations"
_PREFERENCE = {HANDOFFS: 0, "state": 1, "tool": 2, INVOCATIONS: 3}


def min_steps(th: Thresholds) -> int:
    """The fewest steps on one carrier that can make a finding."""
    return min(_pair(th), _ring(th))


def _pair(th: Thresholds) -> int:
    return max(2, th.ping_pong)


def _ring(th: Thresholds) -> int:
    return max(2, 3 * th.cycle_rounds)


class CycleScreen(Struct):
    """The fast path's test: could a carrier hold a cycle? Two agents taking turns on it for
    `pair` steps, or `ring` changes of hands on it (what a cycle of three or more needs).

    A tool needs no screen of its own: it carries a cycle only when a call of it repeats,
    which the fast path's test for repeated calls already catches."""

    pair: int
    ring: int
    seen: dict[str, list[Any]] = field(default_factory=dict)
    """Per carrier: the last agent, the one before, the alternation's length, the steps."""

    @classmethod
    def of(cls, th: Thresholds) -> CycleScreen:
        """The screen for these thresholds."""
        return cls(_pair(th), _ring(th))

    def step(self, carrier: str, agent: str) -> bool:
        """One agent acting on a carrier; True when the trace could hold a cycle."""
        state = self.seen.get(carrier)
        if state is None:
            self.seen[carrier] = [agent, None, 1, 1]
            return len(self.seen) > MAX_CARRIERS
        if state[0] == agent:
            return False
        state[2] = state[2] + 1 if agent == state[1] else 2
        state[1], state[0] = state[0], agent
        state[3] += 1
        return bool(state[2] >= self.pair or state[3] >= self.ring)


class Cycle(Struct, frozen=True):
    """The longest cycle seen on one carrier."""

    carrier: str
    agents: tuple[str, ...]
    steps: int
    first: int
    last: int
    tokens: int
    cost: float
    first_ts: str
    last_ts: str
    stopped: str = ""
    """The guard that stopped it, if one did at its last step."""

    @property
    def rounds(self) -> int:
        """Full passes through all its agents."""
        return self.steps // len(self.agents)


_Step: TypeAlias = tuple[str, int, str, Spent, Spent, int, str]
"""One agent's turn on a carrier: agent, first loc and time, spend before and after, last loc
and time. A plain tuple: one is made per step of every carrier of every trace the tally reads."""
_AGENT: Final = 0
_FIRST: Final = 1
_FIRST_TS: Final = 2
_BEFORE: Final = 3
_AFTER: Final = 4
_LOC: Final = 5
_TS: Final = 6


class _Carrier(Struct):
    """The agents acting on one carrier, and the current periodic runs, one per period."""

    name: str
    recent: list[_Step] = field(default_factory=list)
    runs: list[int] = field(default_factory=lambda: [0] * (MAX_PERIOD + 1))
    starts: list[_Step | None] = field(default_factory=lambda: [None] * (MAX_PERIOD + 1))
    best: Cycle | None = None
    stopped: str = ""
    steps: int = 0
    seen: dict[str, int] = field(default_factory=dict)
    """Each agent seen on it, and the step it last acted at: no period is longer than their
    number, and the trailing steps all by different agents are counted from it."""
    distinct: int = 0
    """How many of the last steps are all by different agents."""

    def feed(self, agent: str, loc: int, before: Spent, after: Spent, ts: str) -> None:
        recent = self.recent
        if recent and recent[-1][_AGENT] == agent:  # the same agent again: one longer step
            last = recent[-1]
            recent[-1] = (
                agent,
                last[_FIRST],
                last[_FIRST_TS],
                last[_BEFORE],
                after,
                loc,
                ts or last[_TS],
            )
            return
        recent.append((agent, loc, ts, before, after, loc, ts))
        if len(recent) > MAX_PERIOD + 1:
            del recent[0]
        steps = self.steps = self.steps + 1
        seen = self.seen
        since = steps - seen.get(agent, -MAX_PERIOD)
        seen[agent] = steps
        distinct = self.distinct + 1
        self.distinct = distinct if distinct < since else since  # min() costs a call: hot path
        self._advance(agent, len(seen) if len(seen) < MAX_PERIOD else MAX_PERIOD)

    def _advance(self, agent: str, top: int) -> None:
        """Each period's run goes on (the agent k steps back is this one) or starts again."""
        recent, runs, n, distinct = self.recent, self.runs, len(self.recent), self.distinct
        for k in range(2, top + 1):
            length = runs[k]
            if length >= k and n > k and recent[-1 - k][_AGENT] == agent:
                runs[k] = length + 1
                continue
            if length >= 2 * k:
                self._keep(k, n - 1)
            runs[k] = k if distinct >= k else distinct
            if distinct >= k:
                self.starts[k] = recent[-k]

    def _keep(self, k: int, upto: int) -> None:
        """Keep period k's run, ending at recent[upto - 1], if it is the longest so far."""
        length, start = self.runs[k], self.starts[k]
        if length < 2 * k or start is None or upto < 1:
            return
        if self.best is not None and length <= self.best.steps:
            return
        end = self.recent[upto - 1]
        order = tuple(s[_AGENT] for s in self.recent[upto - k : upto])
        order = _rotate(order, start[_AGENT])
        self.best = Cycle(
            self.name,
            order,
            length,
            start[_FIRST],
            end[_LOC],
            end[_AFTER][0] - start[_BEFORE][0],
            end[_AFTER][1] - start[_BEFORE][1],
            start[_FIRST_TS],
            end[_TS],
        )

    def close(self) -> None:
        for k in range(2, MAX_PERIOD + 1):
            self._keep(k, len(self.recent))
        best = self.best
        if self.stopped and best is not None and best.last == self.recent[-1][_LOC]:
            self.best = replace(best, stopped=self.stopped)


def _rotate(order: tuple[str, ...], first: str) -> tuple[str, ...]:
    at = order.index(first) if first in order else 0
    return order[at:] + order[:at]


class Cycles(Struct):
    """One trace's carriers, fed by the tally; `close` once when the trace ends."""

    carriers: dict[str, _Carrier] = field(default_factory=dict)
    tools: dict[str, _Carrier] = field(default_factory=dict)
    """The tools' carriers, by the tool's name (the most fed: one look-up, no name to build)."""

    def feed(self, carrier: str, agent: str, loc: int, spent: Spent, ts: str) -> None:
        """An agent acted on a carrier, with the trace's running spend at that step."""
        tracked = self.carriers.get(carrier)
        if tracked is None:
            if not agent or len(self.carriers) + len(self.tools) >= MAX_CARRIERS:
                return
            tracked = self.carriers[carrier] = _Carrier(carrier)
        if agent:
            tracked.feed(agent, loc, spent, spent, ts)

    def tool(self, name: str, agent: str, loc: int, spent: Spent, ts: str) -> None:
        """An agent called a tool (as `feed`, on the carrier `tool NAME`)."""
        tracked = self.tools.get(name)
        if tracked is None:
            if not agent or len(self.carriers) + len(self.tools) >= MAX_CARRIERS:
                return
            tracked = self.tools[name] = _Carrier(f"tool {name}")
        if agent:
            tracked.feed(agent, loc, spent, spent, ts)

    def stop(self, carrier: str, guard: str) -> None:
        """A guard stopped the carrier at its last step."""
        if carrier in self.carriers:
            self.carriers[carrier].stopped = guard

    def close(self, repeated_tools: set[str], *, keep: bool = False) -> list[Cycle]:
        """The longest cycle on each carrier, longest first; the carriers are dropped unless
        `keep` (`--follow` asks again while the trace goes on).

        A tool carries a cycle only when some call of it was repeated (the same arguments
        again): agents taking turns on a shared tool with new arguments each time are doing
        new work, not going round.
        """
        # each handoff starts the taker's task: one loop, not two
        skip = INVOCATIONS if HANDOFFS in self.carriers else None
        carriers = [c for name, c in self.carriers.items() if name != skip]
        found = []
        tools = (c for name, c in self.tools.items() if name in repeated_tools)
        for carrier in (*carriers, *tools):
            carrier.close()
            if carrier.best is not None:
                found.append(carrier.best)
        if not keep:
            self.carriers.clear()
            self.tools.clear()
        return sorted(found, key=_rank)


def _rank(cycle: Cycle) -> tuple[int, int]:
    return -cycle.steps, _PREFERENCE.get(cycle.carrier.split(" ")[0], 9)


def fires(cycle: Cycle, th: Thresholds) -> bool:
    """Whether a cycle is long enough for a finding (two full rounds, when a guard stopped it)."""
    if cycle.stopped:
        return True  # a carrier keeps a best run only from two rounds on
    if len(cycle.agents) == 2:
        return cycle.steps >= th.ping_pong
    return cycle.rounds >= th.cycle_rounds


def loops(cycles: list[Cycle], th: Thresholds) -> list[Cycle]:
    """One per loop: the longest cycle long enough, and no other sharing its agents (agents
    looping through several tools show the same loop on each), in the order they started."""
    kept: list[Cycle] = []
    for c in cycles:
        if fires(c, th) and not any(set(c.agents) & set(k.agents) for k in kept):
            kept.append(c)
    return sorted(kept, key=lambda c: c.first)


def covers(kept: list[Cycle], agent: str, tools: set[str]) -> bool:
    """Whether a loop already found explains this agent's alternation between these tools (the
    loop goes through one of them)."""
    return any(agent in c.agents and c.carrier in {f"tool {t}" for t in tools} for c in kept)


def findings(trace: str, kept: list[Cycle], th: Thresholds, priced: bool) -> Iterator[Finding]:
    """A finding per loop: ping_pong for two agents, cycle for more."""
    for c in kept:
        yield (
            _ping_pong(trace, c, th, priced) if len(c.agents) == 2 else _cycle(trace, c, th, priced)
        )


def _ping_pong(trace: str, c: Cycle, th: Thresholds, priced: bool) -> Finding:
    a, b = c.agents
    return Finding(
        "ping_pong",
        severity(c.steps, th.ping_pong),
        trace,
        a,
        "",
        f"agents {a} and {b} took turns {c.steps} times through {_what(c.carrier)}"
        f"{_until(c)} (threshold {th.ping_pong})",
        f"{a} ⇄ {b} ×{c.steps}",
        c.first,
        c.last,
        c.tokens,
        (c.cost or None) if priced else None,
        f"give one of {a} and {b} the final say (a task with an output_schema that ends the "
        f"exchange, and no handoff back){_carrier_fix(c)}, and cap the exchange with "
        "limits.max_llm_calls",
        first_ts=c.first_ts,
        last_ts=c.last_ts,
        agents=(a, b),
    )


def _cycle(trace: str, c: Cycle, th: Thresholds, priced: bool) -> Finding:
    order = " → ".join((*c.agents, c.agents[0]))
    return Finding(
        "cycle",
        severity(c.rounds, th.cycle_rounds),
        trace,
        c.agents[0],
        "",
        f"agents {', '.join(c.agents)} went round in a cycle {c.rounds} times through "
        f"{_what(c.carrier)}, in this order: {order}{_until(c)} (threshold {th.cycle_rounds} "
        "rounds)",
        f"{order} ×{c.rounds}",
        c.first,
        c.last,
        c.tokens,
        (c.cost or None) if priced else None,
        f"give the cycle an end: one agent decides and the others stop{_carrier_fix(c)}; set "
        f"max_turns: {th.cycle_rounds} on each of them "
        f"({', '.join(f'agents.{a}.max_turns' for a in c.agents)}), and cap the run with "
        "limits.max_llm_calls",
        first_ts=c.first_ts,
        last_ts=c.last_ts,
        agents=tuple(c.agents),
    )


def _until(c: Cycle) -> str:
    return f" until the {c.stopped} guard stopped them" if c.stopped else ""


def _what(carrier: str) -> str:
    kind, _, name = carrier.partition(" ")
    if kind == "tool":
        return f"tool {name}"
    if kind == "state":
        return f"state key {name}"
    return "handoffs (delegations)" if kind == HANDOFFS else "agent invocations"


def _carrier_fix(c: Cycle) -> str:
    kind, _, name = c.carrier.partition(" ")
    if kind == "tool":
        return (
            f"; let no agent ask another to redo the work through tool {name} after a final "
            f"answer (a finalized flag in state that the tool checks, or tool {name} off the "
            "agents that only review)"
        )
    if kind == "state":
        return (
            f"; give state key {name} one owner (only one task's writes: maps to it) and a "
            "finalized flag the others read instead of writing"
        )
    if kind == HANDOFFS:
        others = ", ".join(f"agents.{a}.allow_delegation: false" for a in c.agents[1:])
        return f"; let only {c.agents[0]} delegate ({others})"
    return ""
