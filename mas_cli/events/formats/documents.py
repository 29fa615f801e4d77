"""Trace documents saved from an API or a UI: OTLP JSON and Jaeger's JSON export, streamed.

OTLP JSON: `{"resourceSpans": [{"scopeSpans": [{"spans": [...]}]}]}`, pretty-printed or not,
alone, in a list, under `trace` (Tempo) or as `batches`, or several one after another.
Jaeger: `{"data": [{"traceID", "spans": [{"traceID", "spanID", "operationName", "references",
"startTime" (µs), "tags": [{"key", "type", "value"}], "processID"}], "processes"}]}`.

Both are read one span at a time (`jsondoc.iter_values`) and handed to the OTLP reader as OTLP
spans, so spans are classified, attributed to agents and closed into traces in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from mas_cli.events.formats.jsondoc import head_events, iter_values, keys_at
from mas_cli.events.formats.otlp import Span, SpanReader
from mas_cli.events.formats.records import Record
from mas_cli.events.formats.source import SHAPE_ERRORS, BadLines

OTLP_ROOTS = ("resourceSpans", "batches")
OTLP_SCOPES = ("scopeSpans", "instrumentationLibrarySpans")
ERROR_CODE = 2


def document_kind(head: bytes) -> str | None:
    """`otlp`, `jaeger`, `langfuse` or `openai-agents` from a document's first bytes, or None."""
    events = head_events(head)
    if _otlp_path(events):
        return "otlp"
    if _agents_path(events) is not None:
        return "openai-agents"
    if _jaeger_path(events):
        return "jaeger"
    if _langfuse_path(events):
        return "langfuse"
    return None


def read_otlp_document(
    chunks: Iterable[bytes], head: bytes, source: str, bad: BadLines
) -> Iterator[tuple[int, Record]]:
    """Records from an OTLP JSON document, a span at a time."""
    path = _otlp_path(head_events(head)) or "resourceSpans.item.scopeSpans.item.spans.item"
    return _spans(iter_values(chunks, path, source, bad), _as_is, source, bad)


def read_jaeger(
    chunks: Iterable[bytes], head: bytes, source: str, bad: BadLines
) -> Iterator[tuple[int, Record]]:
    """Records from Jaeger's JSON export, a span at a time."""
    path = _jaeger_path(head_events(head)) or "data.item.spans.item"
    return _spans(iter_values(chunks, path, source, bad), _from_jaeger, source, bad)


def read_agents_document(
    chunks: Iterable[bytes], head: bytes, source: str, bad: BadLines
) -> Iterator[tuple[int, Record]]:
    """Records from the OpenAI Agents SDK's traces and spans saved as one document."""
    from mas_cli.events.formats.openai_agents import read_item
    from mas_cli.events.formats.spans import Attribution

    path, attribution = _agents_path(head_events(head)) or "data.item", Attribution()
    for line, item in iter_values(chunks, path, source, bad):
        try:
            found = list(read_item(line, item, attribution))
        except SHAPE_ERRORS as exc:
            bad.misshapen(source, line, exc)
            continue
        yield from found
    yield from attribution.finish()


def _agents_path(events: list[tuple[str, str, Any]]) -> str | None:
    """Where the Agents SDK's objects are: the prefix of the first `"object": "trace.span"`."""
    for prefix, event, value in events:
        if event == "string" and value in ("trace", "trace.span") and prefix.endswith("object"):
            return prefix.removesuffix("object").removesuffix(".")
    return None


def _spans(
    values: Iterator[tuple[int, Any]], convert: Any, source: str, bad: BadLines
) -> Iterator[tuple[int, Record]]:
    reader = SpanReader()
    for line, value in values:
        yield from read_span(reader, (line, value), convert, source, bad)[1]
    yield from reader.finish()  # with the traces whose root came first, held open till now


def read_span(
    reader: SpanReader, located: tuple[int, Any], convert: Any, source: str, bad: BadLines
) -> tuple[Span | None, list[tuple[int, Record]]]:
    """One span of a document, converted to OTLP's shape and read; (None, []) when misshapen."""
    line, value = located
    try:
        span = msgspec.convert(convert(value), Span)
        return span, list(reader.span(line, span))
    except (msgspec.ValidationError, *SHAPE_ERRORS) as exc:
        bad.misshapen(source, line, exc)
        return None, []


def _as_is(value: Any) -> Any:
    return value


def _join(*parts: str) -> str:
    return ".".join(part for part in parts if part)


def _otlp_path(events: list[tuple[str, str, Any]]) -> str | None:
    for prefix, event, value in events:
        if event == "map_key" and value in OTLP_ROOTS and prefix.count(".") < 3:
            resource = _join(prefix, value, "item")
            keys = keys_at(events, resource)
            scope = next((k for k in keys if k in OTLP_SCOPES), OTLP_SCOPES[0])
            return _join(resource, scope, "item", "spans", "item")
    return None


def _jaeger_path(events: list[tuple[str, str, Any]]) -> str | None:
    """Where Jaeger's spans are: the first `spans` list of an object that has a `traceID`."""
    for prefix, event, value in events:
        if event == "map_key" and value == "spans" and prefix.count(".") < 3:
            keys = keys_at(events, _join(prefix, "spans", "item"))
            if "spanID" in keys or "operationName" in keys:
                return _join(prefix, "spans", "item")
    return None


def _langfuse_path(events: list[tuple[str, str, Any]]) -> str | None:
    from mas_cli.events.formats.langfuse import observations_path

    return observations_path(events)


def _from_jaeger(span: dict[str, Any]) -> dict[str, Any]:
    tags = {str(t.get("key")): t.get("value") for t in span.get("tags") or []}
    references = span.get("references") or []
    parent = next(
        (r.get("spanID", "") for r in references if r.get("refType") == "CHILD_OF"),
        span.get("parentSpanID", ""),
    )
    return {
        "traceId": span.get("traceID", ""),
        "spanId": span.get("spanID", ""),
        "parentSpanId": parent or "",
        "name": span.get("operationName", ""),
        "startTimeUnixNano": int(span.get("startTime") or 0) * 1000,
        "attributes": [{"key": key, "value": any_value(value)} for key, value in tags.items()],
        "status": _jaeger_status(tags),
    }


def _jaeger_status(tags: dict[str, Any]) -> dict[str, Any]:
    failed = tags.get("error") in (True, "true") or tags.get("otel.status_code") == "ERROR"
    if not failed:
        return {}
    return {"code": ERROR_CODE, "message": str(tags.get("otel.status_description") or "error")}


def any_value(value: Any) -> dict[str, Any]:
    """A plain JSON value as an OTLP AnyValue."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if value is None:
        return {}
    return {"stringValue": msgspec.json.encode(value).decode()}
