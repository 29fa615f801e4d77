"""A run's events become spans, as they end: the run, each task, each model and tool call.

    run_started .. run_finished    invoke_workflow {crew}    (root)
    task_started .. task_finished  invoke_agent {agent}      (under the run, or the delegating task)
    llm_call                       chat {model}              (under its task)
    tool_call                      execute_tool {tool}       (under its task)
    retry, limit_hit, state_write, rate_limited, history_trimmed, warning, handoff
                                   span events on the span they happened in

Ids, parent links and times come from the log, never from the clock. A turn has no span of its
own (the GenAI conventions put model and tool calls side by side under the agent), so a call
whose parent is a turn hangs under its task. Memory holds the spans in flight and one id per
task of the runs in flight.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from mas_cli.events import models as ev
from mas_cli.events.otel import SPAN_EVENTS, Attributes
from mas_cli.events.otel import to_attributes as event_attributes
from mas_cli.redact import Secrets

if TYPE_CHECKING:
    from mas_cli.export.content import Contents

OPERATION = "gen_ai.operation.name"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAILED_TASK = frozenset({"failed", "stopped"})


@dataclass(frozen=True)
class SpanEvent:
    """A moment inside a span: a retry, a limit hit, a state write..."""

    name: str
    time_ns: int
    attributes: Attributes


@dataclass
class Span:
    """One finished span, in our own terms (`otlp.py` makes OpenTelemetry's of it)."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    attributes: Attributes
    kind: Literal["internal", "client"] = "internal"
    events: list[SpanEvent] = field(default_factory=list)
    error: str | None = None

    def fail(self, message: str, kind: str) -> None:
        """An error status with its message, and `error.type` as the conventions ask."""
        self.error = message
        self.attributes["error.type"] = kind


LAST_NS = (1 << 64) - 1
"""OTLP times are unsigned 64-bit nanoseconds: from 1970 to the year 2554."""


def time_ns(ts: str) -> int:
    """An ISO 8601 time of the log as integer nanoseconds since the epoch (exact to the µs);
    one OTLP cannot hold (a log edited to another century) is its nearest end of the range."""
    try:
        when = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return 0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(((when - EPOCH) // timedelta(microseconds=1)) * 1000, 0), LAST_NS)


def _before(end_ns: int, seconds: float) -> int:
    """The start of a span that lasted `seconds` up to `end_ns`: never before the epoch, however
    long (or not a number) a tampered log says it lasted."""
    lasted = seconds * 1e9
    return end_ns - round(min(lasted, end_ns)) if lasted > 0 else end_ns


@dataclass
class SpanBuilder:
    """Feed events in log order; get each span back when it ends."""

    content: bool = False
    contents: Contents | None = None  # with content: the run's recorded messages
    secrets: Secrets = field(default_factory=Secrets.from_environment)
    """Masked again in every text attribute: a secret of this environment that the run did
    not know (it ran elsewhere, or before the key was set) never leaves in a span."""
    open: dict[str, Span] = field(default_factory=dict)
    tasks: dict[str, dict[str, str]] = field(default_factory=dict)  # run -> task -> span
    runs: dict[str, str] = field(default_factory=dict)  # run -> its span
    alias: dict[str, str] = field(default_factory=dict)  # a handoff's span -> the span it is in
    last_ns: dict[str, int] = field(default_factory=dict)  # trace -> its latest time

    def add(self, event: ev.Event) -> list[Span]:
        """The spans this event ends (none, one, or a run and what it left open)."""
        self.last_ns[event.trace_id] = max(time_ns(event.ts), self.last_ns.get(event.trace_id, 0))
        if isinstance(event, ev.RunStarted):
            self._start_run(event)
        elif isinstance(event, ev.TaskStarted):
            self._start_task(event)
        elif isinstance(event, ev.LlmCall | ev.ToolCallEvent):
            return [self._call(event)]
        elif isinstance(event, ev.TaskFinished):
            return [self._end_task(event)]
        elif isinstance(event, ev.RunFinished):
            return self._end_run(event)
        elif event.type in SPAN_EVENTS:  # type: ignore[attr-defined]
            self._moment(event)
        return []

    def finish(self) -> list[Span]:
        """The log ended: close what is still open at its trace's last time, as unfinished."""
        spans = list(self.open.values())[::-1]  # children (opened later) before parents
        self.open.clear()
        for span in spans:
            span.end_ns = max(span.start_ns, self.last_ns.get(span.trace_id, span.start_ns))
            span.attributes["mas.unfinished"] = True
            span.fail(span.error or "unfinished: the log ends before this span does", "unfinished")
        return spans

    def _start_run(self, event: ev.RunStarted) -> None:
        attrs: Attributes = {OPERATION: "invoke_workflow", "gen_ai.agent.name": event.crew}
        attrs |= self._attributes(event)
        self.runs[event.run_id] = event.span_id
        self.tasks.setdefault(event.run_id, {})
        name = f"invoke_workflow {event.crew}"
        self.open[event.span_id] = self._span(event, None, name, time_ns(event.ts), attrs)

    def _start_task(self, event: ev.TaskStarted) -> None:
        attrs: Attributes = {OPERATION: "invoke_agent", **self._attributes(event)}
        parent = self._parent(event)
        self.tasks.setdefault(event.run_id, {})[event.task or ""] = event.span_id
        name = f"invoke_agent {event.agent or event.task}"
        self.open[event.span_id] = self._span(event, parent, name, time_ns(event.ts), attrs)

    def _end_task(self, event: ev.TaskFinished) -> Span:
        known = self.tasks.get(event.run_id, {}).get(event.task or "")
        span = self.open.pop(known, None) if known else None
        end = time_ns(event.ts)
        if span is None:  # never started (skipped), or its start is not in the log
            attrs: Attributes = {OPERATION: "invoke_agent"}
            name = f"invoke_agent {event.agent or event.task}"
            start = _before(end, event.duration_s)
            span = self._span(event, self._parent(event), name, start, attrs)
        span.attributes |= self._attributes(event)
        span.end_ns = max(end, span.start_ns)
        if event.status in FAILED_TASK:
            span.fail(event.reason or event.status, event.status)
        return span

    def _end_run(self, event: ev.RunFinished) -> list[Span]:
        span_id = self.runs.pop(event.run_id, event.span_id)
        left = [s for s in self.open.values() if s.trace_id == event.trace_id and s.parent_id]
        done = self._close_left(left, event)
        span = self.open.pop(span_id, None)
        end = time_ns(event.ts)
        if span is None:
            attrs: Attributes = {OPERATION: "invoke_workflow"}
            span = self._span(event, None, "invoke_workflow", _before(end, event.duration_s), attrs)
        span.attributes |= self._attributes(event)
        span.end_ns = max(end, span.start_ns)
        if event.status != "ok":
            span.fail(event.reason or event.status, event.status)
        self.tasks.pop(event.run_id, None)
        self.last_ns.pop(event.trace_id, None)
        return [*done, span]

    def _close_left(self, left: list[Span], event: ev.RunFinished) -> list[Span]:
        """Tasks a run left open when it ended (a killed worker): closed with it."""
        for span in left[::-1]:
            del self.open[span.span_id]
            span.end_ns = max(span.start_ns, time_ns(event.ts))
            span.attributes["mas.unfinished"] = True
            span.fail(span.error or "unfinished: the run ended before this task did", "unfinished")
        return left[::-1]

    def _call(self, event: ev.LlmCall | ev.ToolCallEvent) -> Span:
        end = time_ns(event.ts)
        attrs = self._attributes(event)
        if isinstance(event, ev.LlmCall):
            attrs = {OPERATION: "chat", **attrs}
            if self.contents is not None:
                attrs |= self.contents.for_call(event)
            name, kind = f"chat {event.model}", "client"
        else:
            attrs = {OPERATION: "execute_tool", **attrs}
            name, kind = f"execute_tool {event.tool}", "internal"
        span = self._span(event, self._parent(event), name, _before(end, event.latency_s), attrs)
        span.end_ns, span.kind = end, kind  # type: ignore[assignment]
        if event.status != "ok":
            span.fail(event.error or event.status, event.status)
        return span

    def _moment(self, event: ev.Event) -> None:
        parent = self._parent(event)
        if isinstance(event, ev.Handoff) and parent:  # the worker's task hangs under it
            self.alias[event.span_id] = parent
        span = self.open.get(parent or "") or self.open.get(self.runs.get(event.run_id, ""))
        if span is not None:
            attrs = self._attributes(event)
            span.events.append(SpanEvent(event.type, time_ns(event.ts), attrs))  # type: ignore[attr-defined]

    def _parent(self, event: ev.Event) -> str | None:
        """The span this event hangs under: its parent when that is a span, else its task's,
        else its run's."""
        parent = event.parent_id
        if parent and (parent in self.open or parent in self.runs.values()):
            return parent
        if parent and parent in self.alias:
            return self.alias[parent]
        task = self.tasks.get(event.run_id, {}).get(event.task or "")
        if task and task != event.span_id:
            return task
        return self.runs.get(event.run_id) or parent

    def _attributes(self, event: ev.Event) -> Attributes:
        attrs = event_attributes(event, self.content)
        if self.secrets.values:
            for key, value in attrs.items():
                if isinstance(value, str) and self.secrets.found_in(value):
                    attrs[key] = self.secrets.scrub(value)
        return attrs

    def _span(
        self, event: ev.Event, parent: str | None, name: str, start: int, attrs: Attributes
    ) -> Span:
        return Span(event.trace_id, event.span_id, parent, name, start, start, attrs)


def spans_of(
    events: Iterable[ev.Event], content: bool = False, contents: Contents | None = None
) -> Iterator[Span]:
    """Every span of a stream of events, each as soon as it ends."""
    builder = SpanBuilder(content, contents)
    for event in events:
        yield from builder.add(event)
    yield from builder.finish()
