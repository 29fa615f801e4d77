"""OTLP JSON, as the OpenTelemetry collector's file exporter writes it: one export per line.

Each line is `{"resourceSpans": [{"resource", "scopeSpans": [{"scope", "spans": [...]}]}]}`
with hex trace and span ids, integer enums (`kind`, `status.code`: 2 is an error) and 64-bit
integers as strings (`startTimeUnixNano`, `intValue`). Spans are classified by the GenAI
semantic conventions, current and deprecated names alike, and by OpenInference attributes.
A trace whose root span (no parent) is read has finished; one whose root never appears did not.
Spans `mas export` wrote are read as the run log they came from (`mas_spans.py`).
A call span that names no agent is its enclosing agent span's (`spans.py`, `frameworks.py`), and
the trace's framework, from any of its spans, rides on its agent starts and its end.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec

from mas_cli.events.counts import token_count
from mas_cli.events.formats import frameworks
from mas_cli.events.formats.mas_spans import MARK as MAS_MARK
from mas_cli.events.formats.mas_spans import MasTraces
from mas_cli.events.formats.mas_spans import to_dict as mas_span
from mas_cli.events.formats.records import (
    AgentStart,
    Limit,
    Message,
    ModelCall,
    Record,
    ToolCallRecord,
    TraceEnd,
    TraceStart,
    repeat_digest,
    shaped,
)
from mas_cli.events.formats.source import SHAPE_ERRORS, BadLines
from mas_cli.events.formats.spans import Attribution, Located

STATUS_ERROR = 2
PENDING_TRACES = 256  # traces whose root span came first, held open for the rest of their spans
MODEL_OPERATIONS = {"chat", "text_completion", "generate_content", "completion", "embeddings"}
AGENT_OPERATIONS = {"invoke_agent", "create_agent"}
LIMIT_WORDS = ("max turns", "max_turns", "maxturnsexceeded", "limit exceeded", "budget exceeded")

# Each field, read from the first attribute present: current names, deprecated ones, OpenInference.
INPUT_TOKENS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
OUTPUT_TOKENS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
)
MODEL = ("gen_ai.request.model", "gen_ai.response.model", "llm.model_name")
AGENT = ("gen_ai.agent.name", "agent.name")
TOOL = ("gen_ai.tool.name", "tool.name")
TOOL_ARGS = ("gen_ai.tool.call.arguments", "tool.parameters", "input.value")
TOOL_RESULT = ("gen_ai.tool.call.result", "output.value")
OUTPUT = ("gen_ai.output.messages", "gen_ai.completion", "llm.output_messages", "output.value")
COST = ("gen_ai.usage.cost", "llm.cost.total", "mas.cost_usd")
TASK = ("gen_ai.task.name", "crewai.task.name", "task.name", "mas.task")


class _Span(msgspec.Struct, gc=False):
    traceId: str = ""
    spanId: str = ""
    parentSpanId: str = ""
    name: str = ""
    startTimeUnixNano: str | int = 0
    endTimeUnixNano: str | int = 0
    attributes: list[dict[str, Any]] = []
    status: dict[str, Any] = {}
    events: list[dict[str, Any]] = []


class _Scope(msgspec.Struct, gc=False):
    spans: list[_Span] = []
    scope: dict[str, Any] = {}


class _Resource(msgspec.Struct, gc=False):
    resource: dict[str, Any] = {}
    scopeSpans: list[_Scope] = []
    instrumentationLibrarySpans: list[_Scope] = []


class _Export(msgspec.Struct, gc=False):
    resourceSpans: list[_Resource]


_DECODER = msgspec.json.Decoder(_Export)


def read_otlp(
    lines: Iterable[tuple[int, bytes]], source: str, bad: BadLines
) -> Iterator[tuple[int, Record]]:
    """Records from OTLP JSON lines, in the order their agents become known."""
    reader = _Reader()
    for number, line in lines:
        if line.strip():
            yield from reader.line(number, line, source, bad)
    yield from reader.finish()


class _Reader:
    def __init__(self) -> None:
        self.attribution = Attribution()
        self.seen: set[str] = set()  # the traces in flight
        self.frameworks: dict[str, str] = {}  # per trace in flight, dropped at its end
        self.span_ids: dict[str, set[str]] = {}  # per trace in flight: the spans read
        self.pending: dict[str, Located] = {}  # ends of traces whose root came first
        self.mas = MasTraces()  # spans `mas export` wrote: read as the log they came from

    def finish(self) -> Iterator[Located]:
        """The input ended: end the traces still waiting for the rest of their spans."""
        for trace in list(self.pending):
            yield from self._end(trace, self.pending.pop(trace))
        yield from self.attribution.finish()
        yield from self.mas.finish()

    def line(self, number: int, line: bytes, source: str, bad: BadLines) -> Iterator[Located]:
        try:
            export = _DECODER.decode(line)
        except (msgspec.DecodeError, RecursionError) as exc:  # too deep to decode is bad too
            bad.add(source, number, f"not an OTLP JSON export ({exc})")
            return
        for resource in export.resourceSpans:
            service = _service(resource.resource)
            for scope in resource.scopeSpans or resource.instrumentationLibrarySpans:
                where = (str(scope.scope.get("name") or ""), service)
                for span in scope.spans:
                    try:
                        found = list(self.span(number, span, where))
                    except SHAPE_ERRORS as exc:
                        bad.misshapen(source, number, exc)
                        continue
                    yield from found

    def span(
        self, number: int, span: _Span, where: tuple[str, str] = ("", "")
    ) -> Iterator[Located]:
        attrs = _attributes(span.attributes)
        if MAS_MARK in attrs:
            yield from self.mas.span(number, mas_span(span))
            return
        trace, span_id, parent = span.traceId, span.spanId, span.parentSpanId
        if self._again(trace, span_id):
            return
        first = trace not in self.seen
        if first:
            self.seen.add(trace)
            yield number, TraceStart(trace=trace, ts=_iso(span.startTimeUnixNano), span=span_id)
        framework = self._framework(trace, where, attrs)
        self.attribution.span(trace, span_id, parent)
        agent, graph = _agent(span, attrs)
        if graph:  # a LangGraph graph's own run: the agent of the nodes of its top graph
            yield from self.attribution.agent_span(trace, span_id, graph)
        for record in _records(span, attrs, agent):
            if isinstance(record, AgentStart):
                yield number, msgspec.structs.replace(record, framework=framework)
                yield from self.attribution.agent_span(trace, span_id, record.agent)
            elif record.agent:
                yield number, record
            else:
                yield from self.attribution.record(parent, (number, record))
        if not parent:
            end = (number, TraceEnd(trace=trace, span=span_id, status=_status(span)))
            yield from self._defer(trace, end) if first else self._end(trace, end)

    def _again(self, trace: str, span_id: str) -> bool:
        """Whether the span was read before in its trace (an exporter's retry wrote it twice)."""
        ids = self.span_ids.setdefault(trace, set())
        if span_id in ids:
            return True
        if span_id:
            ids.add(span_id)
        return False

    def _defer(self, trace: str, end: Located) -> Iterator[Located]:
        """The root came first (an export in start order): its trace ends when the input does,
        or when PENDING_TRACES later ones wait too (memory stays bounded)."""
        self.pending[trace] = end
        if len(self.pending) > PENDING_TRACES:
            oldest = next(iter(self.pending))
            yield from self._end(oldest, self.pending.pop(oldest))

    def _end(self, trace: str, end: Located) -> Iterator[Located]:
        yield from self.attribution.end(trace)
        self.seen.discard(trace)  # what is held is the traces in flight, not every trace read
        self.span_ids.pop(trace, None)
        # a trace no framework is named in (an app instrumented by hand) has no crew file:
        # its advice is what to change in its own loop, as for a plain chat
        framework = self.frameworks.pop(trace, "") or frameworks.CHAT
        yield end[0], msgspec.structs.replace(end[1], framework=framework)

    def _framework(self, trace: str, where: tuple[str, str], attrs: dict[str, Any]) -> str:
        known = self.frameworks.get(trace) or frameworks.framework_of(*where, attrs)
        if known:
            self.frameworks[trace] = known
        return known


def _agent(span: _Span, attrs: dict[str, Any]) -> tuple[str, str]:
    """The agent a span names or runs in, and the graph it names when it is a LangGraph root."""
    agent = _first(attrs, AGENT)
    metadata = frameworks.langgraph(attrs)
    if metadata is not None:
        root = frameworks.is_langgraph_root(metadata) and not span.parentSpanId
        return agent or frameworks.langgraph_agent(metadata), span.name if root else ""
    if not agent and _kind(attrs) == "agent":
        agent = frameworks.agent_span_name(span.name, attrs)
    return agent, ""


def _service(resource: dict[str, Any]) -> str:
    items = resource.get("attributes")
    attrs = _attributes(items) if isinstance(items, list) else {}
    return str(attrs.get("service.name") or "")


def _records(span: _Span, attrs: dict[str, Any], agent: str) -> list[Record]:
    common: dict[str, Any] = {
        "trace": span.traceId,
        "agent": agent,
        "task": _first(attrs, TASK),
        "ts": _iso(span.startTimeUnixNano),
        "span": span.spanId,
    }
    error = _error(span)
    kind = _kind(attrs)
    records: list[Record] = []
    if kind == "agent" and agent:
        records.append(AgentStart(**common))
    elif kind == "model":
        records.append(_model_call(attrs, common, error))
    elif kind == "tool":
        records.append(_tool_call(span, attrs, common, error))
    elif error:
        records.append(Message(**common, name=span.name, error=error))
    if error and any(word in error.lower() for word in LIMIT_WORDS):
        records.append(Limit(**common, name=span.name, message=error))
    return records


def _kind(attrs: dict[str, Any]) -> str:
    operation = str(attrs.get("gen_ai.operation.name", ""))
    openinference = str(attrs.get("openinference.span.kind", "")).upper()
    if operation in AGENT_OPERATIONS or openinference == "AGENT":
        return "agent"
    if operation == "execute_tool" or openinference == "TOOL" or _first(attrs, TOOL):
        return "tool"
    if operation in MODEL_OPERATIONS or openinference == "LLM":
        return "model"
    if "gen_ai.system" in attrs or "gen_ai.provider.name" in attrs or _first(attrs, MODEL):
        return "model"
    return ""


def _model_call(attrs: dict[str, Any], common: dict[str, Any], error: str) -> ModelCall:
    output = _first(attrs, OUTPUT)
    output_digest, varied = shaped(output) if output else ("", "")
    cost = next((attrs[name] for name in COST if name in attrs), None)
    return ModelCall(
        **common,
        name=_first(attrs, MODEL),
        status="error" if error else "ok",
        error=error,
        input_tokens=_int(attrs, INPUT_TOKENS),
        output_tokens=_int(attrs, OUTPUT_TOKENS),
        counted=any(name in attrs for name in (*INPUT_TOKENS, *OUTPUT_TOKENS)),
        cost=float(cost) if isinstance(cost, int | float) else None,
        output=output_digest,
        varied=varied,
    )


def _tool_call(
    span: _Span, attrs: dict[str, Any], common: dict[str, Any], error: str
) -> ToolCallRecord:
    args, result = _first(attrs, TOOL_ARGS), _first(attrs, TOOL_RESULT)
    args_digest, varied = shaped(args) if args else ("", "")
    return ToolCallRecord(
        **common,
        name=_first(attrs, TOOL) or span.name.removeprefix("execute_tool "),
        args=args_digest,
        varied=varied,
        output=repeat_digest(result) if result else "",
        status="error" if error else "ok",
        error=error,
    )


def _attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {str(item.get("key")): _value(item.get("value") or {}) for item in items}


def _value(value: dict[str, Any]) -> Any:  # noqa: PLR0911 - one return per OTLP value kind
    """An OTLP AnyValue: intValue arrives as a string (int64), arrays and maps nest."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return _attributes(value["kvlistValue"].get("values", []))
    return None


def _first(attrs: dict[str, Any], names: tuple[str, ...]) -> str:
    for name in names:
        value = attrs.get(name)
        if value not in (None, ""):
            return value if isinstance(value, str) else msgspec.json.encode(value).decode()
    return ""


def _int(attrs: dict[str, Any], names: tuple[str, ...]) -> int:
    """A count: an int, a whole double (an SDK that sends every number as doubleValue) or a
    string of digits; 0 when none of the names holds one."""
    for name in names:
        value = attrs.get(name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int | str) and str(value).lstrip("-").isdigit():
            return token_count(int(value), name)
    return 0


def _error(span: _Span) -> str:
    if span.status.get("code") not in (STATUS_ERROR, "STATUS_CODE_ERROR"):
        return ""
    return str(span.status.get("message") or "error")


def _status(span: _Span) -> str:
    return "failed" if _error(span) else "ok"


def _iso(nanos: str | int) -> str:
    try:
        seconds = int(nanos) / 1e9
    except ValueError:
        return ""
    if seconds <= 0:
        return ""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")[:26] + "Z"


Span = _Span
"""One OTLP span, as the document readers (documents.py, langfuse.py) hand them in."""
SpanReader = _Reader
"""Reads spans one at a time: records, agents attributed, traces closed at their root."""
