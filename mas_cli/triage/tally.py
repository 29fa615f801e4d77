"""The one pass over a record stream: what the loop detectors need, per trace and per thread.

A thread is one agent's work on one task in one trace. Per thread: calls, turns, spend, the
model's input tokens per call, the longest run of identical outputs and of alternating tool
calls. Per trace: its threads, repeated tool calls and repeated failures, the longest
alternation of agents, limit hits, and whether it started and ended. Across traces: agent
invocations per minute.

A trace is closed, and handed to the detectors, when its end is read; the memory held is that
of the traces in flight. Tallies of separate parts of a log merge with `absorb`.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mas_cli.events.formats.records import (
    AgentStart,
    Handoff,
    Limit,
    Message,
    ModelCall,
    TaskEnd,
    ToolCall,
    TraceEnd,
    TraceStart,
)
from mas_cli.triage.runs import RunTracker


@dataclass(slots=True)
class Thread:
    """One agent on one task in one trace."""

    trace: str
    agent: str
    task: str
    first: int
    last: int = 0
    calls: int = 0
    tool_calls: int = 0
    starts: int = 0
    max_turn: int = 0
    tokens: int = 0
    cost: float = 0.0
    priced: bool = False
    model: str = ""
    inputs: array[int] = field(default_factory=lambda: array("q"))
    outputs: RunTracker = field(default_factory=lambda: RunTracker(1))
    tools: RunTracker = field(default_factory=lambda: RunTracker(2))
    minute: str = ""
    minute_calls: int = 0
    minute_first: int = 0
    minute_last: int = 0
    first_span: str = ""
    last_span: str = ""
    first_ts: str = ""
    last_ts: str = ""

    @property
    def turns(self) -> int:
        """Turns taken: the highest turn number logged, else the model calls (or agent steps)."""
        return self.max_turn or self.calls or self.starts


@dataclass(slots=True)
class Repeat:
    """One call (or one failure) seen more than once in a trace."""

    agent: str
    task: str
    first: int
    count: int = 0
    last: int = 0
    output: str = ""
    same_output: bool = True
    tokens_before: int = 0
    cost_before: float = 0.0
    tokens_at_last: int = 0
    cost_at_last: float = 0.0
    error: str = ""
    first_span: str = ""
    last_span: str = ""
    first_ts: str = ""
    last_ts: str = ""


@dataclass(slots=True)
class Trace:
    """Everything about one trace (one run) the detectors look at."""

    trace: str
    first: int
    last: int = 0
    started: bool = False
    ended: bool = False
    status: str = ""
    tokens: int = 0
    cost: float = 0.0
    threads: dict[tuple[str, str], Thread] = field(default_factory=dict)
    calls: dict[tuple[str, str], Repeat] = field(default_factory=dict)
    failures: dict[tuple[str, str, str], Repeat] = field(default_factory=dict)
    handoffs: RunTracker = field(default_factory=lambda: RunTracker(2))
    agent_turns: RunTracker = field(default_factory=lambda: RunTracker(2))
    had_handoffs: bool = False
    limits: list[tuple[int, Limit]] = field(default_factory=list)
    last_agent: str = ""
    last_task: str = ""
    first_ts: str = ""
    last_ts: str = ""
    framework: str = ""
    """The framework that ran it ("" for mas or when the log does not say): advice speaks it."""


@dataclass(slots=True)
class Rate:
    """One agent's invocations in one minute."""

    count: int = 0
    first: int = 0
    last: int = 0


@dataclass
class Tally:
    """The state of one pass: traces in flight, closed traces to detect on, per-minute rates."""

    open: dict[str, Trace] = field(default_factory=dict)
    closed: list[Trace] = field(default_factory=list)
    starts_per_minute: dict[tuple[str, str], Rate] = field(default_factory=dict)
    calls_per_minute: dict[tuple[str, str], Rate] = field(default_factory=dict)
    records: int = 0
    counts: bool = True
    """Count invocations per minute (off when a faster pass counts them, see `bulk.py`)."""

    def __post_init__(self) -> None:
        self.handlers: dict[type, Callable[[int, Any], None]] = {
            ModelCall: self.model_call,
            ToolCall: self.tool_call,
            Message: self.message,
            Handoff: self.handoff,
            Limit: self.limit,
            AgentStart: self.agent_start,
            TaskEnd: self.task_end,
            TraceStart: self.trace_start,
            TraceEnd: self.trace_end,
        }

    def observe(self, loc: int, record: Any) -> None:
        """Fold one record in."""
        handler = self.handlers.get(type(record))
        if handler is not None:
            handler(loc, record)

    def observe_all(self, base: int, records: list[Any]) -> None:
        """Fold in a block of records, the i-th at line `base + i` (None entries skipped)."""
        handlers = self.handlers
        for offset, record in enumerate(records):
            handler = handlers.get(type(record))
            if handler is not None:
                handler(base + offset, record)

    def _trace(self, loc: int, record: Any) -> Trace:
        trace = self.open.get(record.trace)
        if trace is None:
            trace = self.open[record.trace] = Trace(record.trace, loc, first_ts=record.ts)
        trace.last = loc
        if record.ts:
            trace.last_ts = record.ts
        self.records += 1
        return trace

    def _thread(self, loc: int, record: Any) -> tuple[Trace, Thread]:
        trace = self._trace(loc, record)
        key = (record.agent, record.task)
        thread = trace.threads.get(key)
        if thread is None:
            thread = trace.threads[key] = Thread(record.trace, record.agent, record.task, loc)
            thread.first_span, thread.first_ts = record.span, record.ts
        thread.last, thread.last_span = loc, record.span
        if record.ts:
            thread.last_ts = record.ts
        trace.last_agent, trace.last_task = key
        return trace, thread

    def model_call(self, loc: int, record: ModelCall) -> None:
        """A model call: turns, spend, input growth, repeated outputs, failures."""
        trace, thread = self._thread(loc, record)
        thread.calls += 1
        thread.max_turn = max(thread.max_turn, record.turn)
        before, cost_before = thread.tokens, thread.cost
        spent = record.input_tokens + record.output_tokens
        thread.tokens += spent
        trace.tokens += spent
        if record.cost is not None:
            thread.cost += record.cost
            trace.cost += record.cost
            thread.priced = True
        if record.name:
            thread.model = record.name
        thread.inputs.append(record.input_tokens)
        if record.output:
            thread.outputs.feed(
                record.output, loc, (before, cost_before), (thread.tokens, thread.cost), record.ts
            )
        if record.status != "ok":
            self._failure(trace, loc, record, ("model", record.name, record.error or record.status))
        if self.counts:
            self._tick(thread, record.ts, loc)

    def tool_call(self, loc: int, record: ToolCall) -> None:
        """A tool call: repeats within the trace, alternations within the thread, failures."""
        trace, thread = self._thread(loc, record)
        thread.tool_calls += 1
        key = (record.name, record.args)
        spent = (thread.tokens, thread.cost)
        thread.tools.feed(key, loc, spent, spent, record.ts)
        seen = trace.calls.get(key)
        if seen is None:
            seen = trace.calls[key] = Repeat(record.agent, record.task, loc, output=record.output)
            seen.tokens_before, seen.cost_before = trace.tokens, trace.cost
            seen.first_span, seen.first_ts = record.span, record.ts
        seen.count += 1
        seen.last, seen.tokens_at_last, seen.cost_at_last = loc, trace.tokens, trace.cost
        seen.last_span, seen.last_ts = record.span, record.ts
        if record.output != seen.output:
            seen.same_output = False
        if record.status != "ok":
            self._failure(trace, loc, record, ("tool", record.name, record.error or record.status))

    def message(self, loc: int, record: Message) -> None:
        """Something an agent said: a repeated one is a monologue."""
        trace, thread = self._thread(loc, record)
        if record.output:
            spent = (thread.tokens, thread.cost)
            thread.outputs.feed(record.output, loc, spent, spent, record.ts)
        if record.error:
            self._failure(trace, loc, record, ("message", record.name, record.error))

    def handoff(self, loc: int, record: Handoff) -> None:
        """Work passed between agents: the sequence of agents holding it."""
        trace = self._trace(loc, record)
        trace.had_handoffs = True
        runs, spent = trace.handoffs, (trace.tokens, trace.cost)
        if runs.prev != record.giver:
            runs.feed(record.giver, loc, spent, spent, record.ts)
        runs.feed(record.taker, loc, spent, spent, record.ts)

    def limit(self, loc: int, record: Limit) -> None:
        """A guard stopped something."""
        self._trace(loc, record).limits.append((loc, record))

    def agent_start(self, loc: int, record: AgentStart) -> None:
        """An agent invoked: counted per minute, and the order agents take turns in."""
        trace, thread = self._thread(loc, record)
        trace.framework = record.framework or trace.framework
        thread.starts += 1
        thread.max_turn = max(thread.max_turn, record.turn)
        spent = (trace.tokens, trace.cost)
        trace.agent_turns.feed(record.agent, loc, spent, spent, record.ts)
        if self.counts:
            _count(self.starts_per_minute, (record.agent, record.ts[:16]), loc)

    def task_end(self, loc: int, record: TaskEnd) -> None:
        """A task ended (nothing to count; it keeps the trace's last place current)."""
        self._trace(loc, record)

    def trace_start(self, loc: int, record: TraceStart) -> None:
        """A run began."""
        self._trace(loc, record).started = True

    def trace_end(self, loc: int, record: TraceEnd) -> None:
        """A run ended: close its trace."""
        trace = self._trace(loc, record)
        trace.ended, trace.status = True, record.status
        trace.framework = record.framework or trace.framework
        self._close(self.open.pop(record.trace))

    def finish(self) -> None:
        """The input ended: every trace still open is closed as it stands."""
        for trace in self.open.values():
            self._close(trace)
        self.open.clear()

    def _close(self, trace: Trace) -> None:
        for thread in trace.threads.values():
            self.flush_minute(thread)
            thread.outputs.close()
            thread.tools.close()
        trace.handoffs.close()
        trace.agent_turns.close()
        self.closed.append(trace)

    def _failure(self, trace: Trace, loc: int, record: Any, key: tuple[str, str, str]) -> None:
        norm = (key[0], key[1], _normalize(key[2]))
        seen = trace.failures.get(norm)
        if seen is None:
            seen = trace.failures[norm] = Repeat(record.agent, record.task, loc, error=key[2])
            seen.tokens_before, seen.cost_before = trace.tokens, trace.cost
            seen.first_span, seen.first_ts = record.span, record.ts
        seen.count += 1
        seen.last, seen.tokens_at_last, seen.cost_at_last = loc, trace.tokens, trace.cost
        seen.last_span, seen.last_ts = record.span, record.ts

    def _tick(self, thread: Thread, ts: str, loc: int) -> None:
        minute = ts[:16]
        if minute != thread.minute:
            self.flush_minute(thread)
            thread.minute = minute
        if not thread.minute_calls:
            thread.minute_first = loc
        thread.minute_calls += 1
        thread.minute_last = loc

    def flush_minute(self, thread: Thread) -> None:
        """Add a thread's calls in its current minute to the per-minute counts."""
        if thread.minute_calls and thread.minute:
            key = (thread.agent, thread.minute)
            add_rate(
                self.calls_per_minute,
                key,
                thread.minute_calls,
                thread.minute_first,
                thread.minute_last,
            )
        thread.minute_calls = 0

    def absorb(self, other: Tally) -> None:
        """Add a tally of a later part of the log (its open traces stay open here too)."""
        self.closed.extend(other.closed)
        self.open.update(other.open)
        self.records += other.records
        for mine, theirs in (
            (self.starts_per_minute, other.starts_per_minute),
            (self.calls_per_minute, other.calls_per_minute),
        ):
            for key, rate in theirs.items():
                add_rate(mine, key, rate.count, rate.first, rate.last)


def _count(rates: dict[tuple[str, str], Rate], key: tuple[str, str], loc: int) -> None:
    if not key[1]:
        return
    add_rate(rates, key, 1, loc, loc)


def add_rate(
    rates: dict[tuple[str, str], Rate], key: tuple[str, str], count: int, first: int, last: int
) -> None:
    """Add `count` invocations, the first and last at these locs, to one agent's minute."""
    mine = rates.get(key)
    if mine is None:
        rates[key] = Rate(count, first, last)
        return
    mine.count += count
    if first < mine.first:  # noqa: PLR1730 (a min() call costs more; this runs per thread)
        mine.first = first
    if last > mine.last:  # noqa: PLR1730
        mine.last = last


def _normalize(error: str) -> str:
    """Failures that differ only in numbers (ids, waits, counts) are the same failure."""
    return "".join("#" if c.isdigit() else c for c in error[:200])
