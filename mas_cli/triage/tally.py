"""The one pass over a record stream: what the loop detectors need, per trace and per thread.

A thread is one agent's work on one task in one trace. Per thread: calls, turns, spend, the
model's input tokens per call, the longest run of identical outputs and of alternating tool
calls. Per trace: its threads, repeated tool calls and repeated failures, the cycles
among agents (see `cycles.py`), limit hits, and whether it started and ended. Across traces: agent
invocations per minute.

What it keeps is defined in `traces.py`. A trace is closed, and handed to the detectors, when
its end is read; the memory held is that of the traces in flight. Tallies of separate parts of
a log merge with `absorb`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mas_cli.events.formats.frameworks import CHAT
from mas_cli.events.formats.records import (
    AgentStart,
    Handoff,
    Limit,
    Message,
    ModelCall,
    StateWrite,
    TaskEnd,
    ToolCallRecord,
    TraceEnd,
    TraceStart,
)
from mas_cli.events.volatile import differing
from mas_cli.triage.cycles import HANDOFFS, INVOCATIONS
from mas_cli.triage.sums import MinuteKey, Rate, add_rate, flush_minute
from mas_cli.triage.traces import DISTINCT, Repeat, Thread, Trace, forget


@dataclass
class Tally:
    """The state of one pass: traces in flight, closed traces to detect on, per-minute rates."""

    open: dict[str, Trace] = field(default_factory=dict)
    closed: list[Trace] = field(default_factory=list)
    starts_per_minute: dict[MinuteKey, Rate] = field(default_factory=dict)
    calls_per_minute: dict[MinuteKey, Rate] = field(default_factory=dict)
    records: int = 0
    counts: bool = True
    """Count invocations per minute (off when a faster pass counts them, see `bulk.py`)."""
    writers: dict[tuple[str, str], str] = field(default_factory=dict)
    """What ran each (crew, agent), when the log says (a framework): rate advice speaks it."""
    framework: str = ""
    """What wrote the log when its records do not say: CHAT for a text log, which has no
    crew file to set (see `for_format`); "" is mas."""
    every_call: bool = True
    """The log records every model call (our own; see `TraceStart.every_call`): a trace of
    another log is taken as one only when its records say so (spans `mas export` wrote)."""

    @classmethod
    def for_format(cls, fmt: str) -> Tally:
        """A tally for a log read as `fmt`: a text log's advice names no setting of a crew
        file, which a text log's writer does not have; only our own log records every model
        call, so only there is a trace without one a trace that spent no tokens."""
        return cls(framework=CHAT if fmt == "text" else "", every_call=fmt == "mas")

    def __post_init__(self) -> None:
        self.handlers: dict[type, Callable[[int, Any], None]] = {
            ModelCall: self.model_call,
            ToolCallRecord: self.tool_call,
            Message: self.message,
            Handoff: self.handoff,
            StateWrite: self.state_write,
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
            trace = self.open[record.trace] = Trace(
                record.trace,
                loc,
                first_ts=record.ts,
                framework=self.framework,
                every_call=self.every_call,
            )
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
            thread = trace.threads[key] = Thread(
                agent=record.agent, crew=trace.crew, trace=record.trace, task=record.task, first=loc
            )
            thread.partial = not trace.every_call
            thread.first_span, thread.first_ts = record.span, record.ts
            if self.framework:  # rate advice, too, speaks as the log's writer would
                self.writers.setdefault((trace.crew, record.agent), self.framework)
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
        if not record.counted:
            thread.uncounted += 1
        trace.tokens += spent
        if record.cost is not None:
            thread.cost += record.cost
            trace.cost += record.cost
            thread.priced = True
        if record.name:
            thread.model = record.name
        thread.inputs.append(record.input_tokens)
        if record.output:
            if record.varied or thread.last_shape:
                _same_but(thread, record)
            thread.outputs.feed(
                record.output, loc, (before, cost_before), (thread.tokens, thread.cost), record.ts
            )
        if record.status != "ok":
            self._failure(
                trace, thread, loc, record, ("model", record.name, record.error or record.status)
            )
        if self.counts:
            self._tick(thread, record.ts, loc)

    def tool_call(self, loc: int, record: ToolCallRecord) -> None:
        """A tool call: repeats within the trace, alternations within the thread, failures."""
        trace, thread = self._thread(loc, record)
        thread.tool_calls += 1
        key = (record.name, record.args)
        spent = (thread.tokens, thread.cost)
        thread.tools.feed(key, loc, spent, spent, record.ts)
        trace.carriers.tool(record.name, record.agent, loc, (trace.tokens, trace.cost), record.ts)
        seen = trace.calls.get(key)
        if seen is None:
            trace.calls, trace.bounds[0] = forget(trace.calls, trace.bounds[0])
            seen = trace.calls[key] = Repeat(record.agent, record.task, loc, output=record.output)
            seen.first_span, seen.first_ts, seen.shape = record.span, record.ts, record.varied
        seen.step(thread, loc, record.span, record.ts)
        if record.cached:
            seen.cached += 1
        if record.varied != seen.shape:
            seen.varied |= differing(seen.shape, record.varied)
        if record.output != seen.output:
            if seen.same_output:
                seen.same_output, seen.outputs = False, {seen.output}
            if len(seen.outputs) < DISTINCT:
                seen.outputs.add(record.output)
        if record.status != "ok":
            error = record.error or record.status
            self._failure(trace, thread, loc, record, ("tool", record.name, error))

    def message(self, loc: int, record: Message) -> None:
        """Something an agent said: a repeated one is a monologue."""
        trace, thread = self._thread(loc, record)
        if record.output:
            if record.varied or thread.last_shape:
                _same_but(thread, record)
            spent = (thread.tokens, thread.cost)
            thread.outputs.feed(record.output, loc, spent, spent, record.ts)
        if record.error:
            self._failure(trace, thread, loc, record, ("message", record.name, record.error))

    def handoff(self, loc: int, record: Handoff) -> None:
        """Work passed between agents: the sequence of agents holding it."""
        trace = self._trace(loc, record)
        for agent in (record.giver, record.taker):
            trace.carriers.feed(HANDOFFS, agent, loc, _spent(trace), record.ts)

    def state_write(self, loc: int, record: StateWrite) -> None:
        """A shared-state key written: the agents writing it in turn may form a cycle."""
        trace = self._trace(loc, record)
        trace.carriers.feed(f"state {record.key}", record.agent, loc, _spent(trace), record.ts)

    def limit(self, loc: int, record: Limit) -> None:
        """A guard stopped something (a refused delegation still shows who handed work to whom)."""
        trace = self._trace(loc, record)
        trace.limits.append((loc, record))
        if len(record.chain) >= 2:
            for agent in record.chain[-2:]:
                trace.carriers.feed(HANDOFFS, agent, loc, _spent(trace), record.ts)
            trace.carriers.stop(HANDOFFS, record.name)

    def agent_start(self, loc: int, record: AgentStart) -> None:
        """An agent invoked: counted per minute, and the order agents take turns in."""
        trace, thread = self._thread(loc, record)
        if record.framework:
            trace.framework = record.framework
            self.writers[trace.crew, record.agent] = record.framework
        thread.starts += 1
        thread.max_turn = max(thread.max_turn, record.turn)
        trace.carriers.feed(INVOCATIONS, record.agent, loc, _spent(trace), record.ts)
        if self.counts and record.ts:
            add_rate(
                self.starts_per_minute, (trace.crew, record.agent, record.ts[:16]), 1, loc, loc
            )

    def task_end(self, loc: int, record: TaskEnd) -> None:
        """A task ended (nothing to count; it keeps the trace's last place current)."""
        self._trace(loc, record)

    def trace_start(self, loc: int, record: TraceStart) -> None:
        """A run began."""
        trace = self._trace(loc, record)
        trace.started, trace.crew, trace.run = True, record.crew, record.run
        trace.every_call = trace.every_call or record.every_call
        for thread in trace.threads.values():
            thread.partial = not trace.every_call

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
        self.settle(trace, last=True)
        self.closed.append(trace)

    def settle(self, trace: Trace, *, last: bool = False) -> None:
        """Bring a trace's runs and per-minute counts up to date, so the detectors see it as it
        stands; unless it is the `last` time, it may go on (`--follow` judges traces still
        open)."""
        for thread in trace.threads.values():
            self.flush_minute(thread)
            thread.outputs.close()
            thread.tools.close()
        repeated = {tool for (tool, _), seen in trace.calls.items() if seen.count > 1}
        trace.cycles = trace.carriers.close(repeated, keep=not last)

    def _failure(
        self, trace: Trace, thread: Thread, loc: int, record: Any, key: tuple[str, str, str]
    ) -> None:
        norm = (key[0], key[1], _normalize(key[2]))
        seen = trace.failures.get(norm)
        if seen is None:
            trace.failures, trace.bounds[1] = forget(trace.failures, trace.bounds[1])
            seen = trace.failures[norm] = Repeat(record.agent, record.task, loc, error=key[2])
            seen.first_span, seen.first_ts = record.span, record.ts
        seen.step(thread, loc, record.span, record.ts)

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
        flush_minute(self.calls_per_minute, thread)

    def absorb(self, other: Tally) -> None:
        """Add a tally of a later part of the log (its open traces stay open here too)."""
        self.closed.extend(other.closed)
        self.open.update(other.open)
        self.records += other.records
        self.writers.update(other.writers)
        for mine, theirs in (
            (self.starts_per_minute, other.starts_per_minute),
            (self.calls_per_minute, other.calls_per_minute),
        ):
            for key, rate in theirs.items():
                add_rate(mine, key, rate.count, rate.first, rate.last)


def _same_but(thread: Thread, record: ModelCall | Message) -> None:
    """Note which volatile parts differ when an output repeats the one before it."""
    if record.output == thread.outputs.prev and record.varied != thread.last_shape:
        thread.output_varied |= differing(thread.last_shape, record.varied)
    thread.last_shape = record.varied


def _spent(trace: Trace) -> tuple[int, float]:
    return trace.tokens, trace.cost


def _normalize(error: str) -> str:
    """Failures that differ only in numbers (ids, waits, counts) are the same failure."""
    return "".join("#" if c.isdigit() else c for c in error[:200])
