"""Langfuse trace exports: a trace and its observations, streamed an observation at a time.

The UI's "Download JSON" and the public API give `{"trace": {...}, "observations": [...]}`, a
trace with its `observations` inside, a list of either, or `{"data": [observation, ...]}`.
An observation is `{"id", "traceId", "parentObservationId", "type", "name", "startTime",
"level", "statusMessage", "model", "input", "output", "usageDetails" | "usage",
"calculatedTotalCost" | "costDetails", "metadata"}`; traces sent over OpenTelemetry keep their
original span attributes in `metadata.attributes`, which are read first.

Each observation becomes an OTLP span for the OTLP reader: GENERATION a model call, TOOL a
tool call, AGENT an agent span (its name is the agent), level ERROR an error. Observations
without a parent hang from their trace, which ends when the next trace starts or the input does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import msgspec

from mas_cli.events.formats.documents import ERROR_CODE, any_value, read_span
from mas_cli.events.formats.jsondoc import iter_values, keys_at
from mas_cli.events.formats.otlp import Span, SpanReader
from mas_cli.events.formats.records import Record
from mas_cli.events.formats.source import BadLines

OPERATIONS = {"GENERATION": "chat", "TOOL": "execute_tool", "AGENT": "invoke_agent"}
Located = tuple[int, Record]


def observations_path(events: list[tuple[str, str, Any]]) -> str | None:
    """Where a Langfuse export's observations are, from its head's parse events."""
    for prefix, event, value in events:
        if event != "map_key" or prefix.count(".") > 2:
            continue
        item = f"{prefix}.{value}.item" if prefix else f"{value}.item"
        keys = keys_at(events, item)
        if value == "observations" or (value == "data" and {"traceId", "type"} <= set(keys)):
            return item
    return None


def read_langfuse(
    chunks: Iterable[bytes], head: bytes, source: str, bad: BadLines
) -> Iterator[tuple[int, Record]]:
    """Records from a Langfuse trace export."""
    from mas_cli.events.formats.jsondoc import head_events

    path = observations_path(head_events(head)) or "observations.item"
    reader, trace, line = SpanReader(), "", 0
    for line, value in iter_values(chunks, path, source, bad):
        span, found = read_span(reader, (line, value), _span, source, bad)
        if span is None:
            continue
        if trace and span.traceId != trace:
            yield from _end(reader, line, trace)
        trace = span.traceId
        yield from found
    if trace:
        yield from _end(reader, line, trace)
    yield from reader.attribution.finish()


def _end(reader: SpanReader, line: int, trace: str) -> Iterator[Located]:
    """The trace's root: its waiting records are released and it ends."""
    yield from reader.span(line, Span(traceId=trace, spanId=trace, name="trace"))


def _span(item: dict[str, Any]) -> dict[str, Any]:
    kind = str(item.get("type") or "").upper()
    attrs = _attributes(item, kind)
    error = str(item.get("level") or "").upper() == "ERROR"
    return {
        "traceId": str(item["traceId"]),
        "spanId": str(item["id"]),
        "parentSpanId": str(item.get("parentObservationId") or item["traceId"]),
        "name": str(item.get("name") or ""),
        "startTimeUnixNano": _nanos(item.get("startTime")),
        "attributes": [{"key": key, "value": any_value(value)} for key, value in attrs.items()],
        "status": {"code": ERROR_CODE, "message": str(item.get("statusMessage") or "error")}
        if error
        else {},
    }


def _attributes(item: dict[str, Any], kind: str) -> dict[str, Any]:
    """The span's OpenTelemetry attributes: the original ones, then what Langfuse's fields say."""
    metadata = item.get("metadata")
    original = metadata.get("attributes") if isinstance(metadata, dict) else None
    attrs = dict(original) if isinstance(original, dict) else {}
    name = str(item.get("name") or "")
    if kind in OPERATIONS:
        attrs.setdefault("gen_ai.operation.name", OPERATIONS[kind])
    if kind == "AGENT":
        attrs.setdefault("gen_ai.agent.name", name)
    elif kind == "TOOL":
        attrs.setdefault("gen_ai.tool.name", name)
        _set_json(attrs, "gen_ai.tool.call.arguments", item.get("input"))
        _set_json(attrs, "gen_ai.tool.call.result", item.get("output"))
    elif kind == "GENERATION":
        _generation(attrs, item)
    return attrs


def _generation(attrs: dict[str, Any], item: dict[str, Any]) -> None:
    usage = item.get("usageDetails") or item.get("usage") or {}
    if item.get("model"):
        attrs.setdefault("gen_ai.request.model", str(item["model"]))
    attrs.setdefault("gen_ai.usage.input_tokens", usage.get("input", item.get("promptTokens")))
    attrs.setdefault(
        "gen_ai.usage.output_tokens", usage.get("output", item.get("completionTokens"))
    )
    cost = item.get("calculatedTotalCost")
    if cost is None:
        cost = (item.get("costDetails") or {}).get("total")
    attrs.setdefault("gen_ai.usage.cost", cost)
    _set_json(attrs, "gen_ai.completion", item.get("output"))


def _set_json(attrs: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and key not in attrs:
        attrs[key] = value if isinstance(value, str) else msgspec.json.encode(value).decode()


def _nanos(value: Any) -> int:
    if not isinstance(value, str) or not value:
        return 0
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return 0
    return int(moment.timestamp() * 1_000_000) * 1000
