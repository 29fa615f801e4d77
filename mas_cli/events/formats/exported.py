"""Our own events, read back from a file `mas export` wrote (OTLP JSON, one export a line).

The spans carry every field of the events they were made of (`events/otel.py` names them both
ways), so `mas cost-report` reads an exported run exactly as it reads its events.jsonl: a chat
span is its `llm_call`, an execute_tool span its `tool_call`, the workflow span its run's start
and end, an agent span its task's start and end, and span events the rest. A span that no
`mas export` made (no `mas.run_id`) is skipped. Streamed: one line in memory at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from pydantic import ValidationError

from mas_cli.errors import LogFormatError
from mas_cli.events import models as ev
from mas_cli.events.formats.lines import NumberedLines
from mas_cli.events.models import why_not
from mas_cli.events.otel import SPAN_EVENTS, from_attributes
from mas_cli.events.reader import first_bad

RUN_ID = "mas.run_id"
BY_OPERATION: dict[str, tuple[type[ev.Event], ...]] = {
    "invoke_workflow": (ev.RunStarted, ev.RunFinished),
    "invoke_agent": (ev.TaskStarted, ev.TaskFinished),
    "chat": (ev.LlmCall,),
    "execute_tool": (ev.ToolCallEvent,),
}
"""What each span was made of: (its start event, its end event) or its one event."""


NOT_OURS = (ValidationError, ValueError, TypeError, AttributeError, KeyError, RecursionError)
"""What reading a span raises when mas did not write it (or it was edited)."""


class ExportedReader:
    """The events of an exported file; `skipped` counts lines and spans that were not ours."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.skipped = 0
        self.bad_lines: list[tuple[int, str]] = []

    def __iter__(self) -> Iterator[ev.AnyEvent]:
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise LogFormatError(f"{self.path}: cannot be read ({exc.strerror})") from None
        with handle:
            for number, line in NumberedLines(handle):  # blank lines are counted, not given
                yield from self._line(number, line)

    def _line(self, number: int, line: bytes | None) -> Iterator[ev.AnyEvent]:
        try:
            export = msgspec.json.decode(line or b"")
            spans = [
                span
                for resource in export["resourceSpans"]
                for scope in resource.get("scopeSpans", [])
                for span in scope.get("spans", [])
            ]
        except (msgspec.DecodeError, KeyError, TypeError, AttributeError, RecursionError):
            self._skip(number, "not an OTLP JSON export line")
            return
        for span in spans:
            try:
                yield from span_events(span)
            except NOT_OURS as exc:
                name = span.get("name", "?") if isinstance(span, dict) else "?"
                why = f": {why_not(exc)}" if isinstance(exc, ValidationError) else ""
                self._skip(number, f"span {name!r} is not one mas exported{why}")

    @property
    def first_bad(self) -> str:
        """The first line skipped, as `path:line: why` ("" when none was)."""
        return first_bad(self.path, self.bad_lines)

    def _skip(self, number: int, why: str) -> None:
        self.skipped += 1
        if len(self.bad_lines) < 5:
            self.bad_lines.append((number, why))


def span_events(span: dict[str, Any]) -> Iterator[ev.AnyEvent]:
    """The events one exported span was made of (raises on a span mas did not write)."""
    attrs = _attributes(span.get("attributes") or [])
    if RUN_ID not in attrs:
        raise ValueError("no mas.run_id")
    envelope = {
        "run_id": attrs[RUN_ID],
        "trace_id": span["traceId"],
        "span_id": span["spanId"],
        "parent_id": span.get("parentSpanId") or None,
    }
    operation = str(attrs.get("gen_ai.operation.name"))
    if operation == "invoke_workflow":
        attrs.pop("gen_ai.agent.name", None)  # the crew, named as the conventions ask
    models = BY_OPERATION.get(operation, ())
    times = (_iso(span.get("startTimeUnixNano")), _iso(span.get("endTimeUnixNano")))
    for model, ts in zip(models, times[-len(models) :], strict=False):
        if model is ev.RunFinished and "mas.unfinished" in attrs:
            continue  # the export closed what the log left open: the run did not finish
        if model is ev.TaskFinished and "mas.status" not in attrs:
            continue
        yield _event(model, {**envelope, "ts": ts}, attrs)
    for moment in span.get("events") or []:
        kind = SPAN_EVENTS.get(str(moment.get("name")))
        if kind is not None:
            inner = _attributes(moment.get("attributes") or [])
            yield _event(kind, {**envelope, "ts": _iso(moment.get("timeUnixNano"))}, inner)


def _event(model: type[ev.Event], envelope: dict[str, Any], attrs: dict[str, Any]) -> Any:
    return model.model_validate({**envelope, **from_attributes(model, attrs)})


def _attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {str(item["key"]): _value(item.get("value") or {}) for item in items}


def _value(value: dict[str, Any]) -> Any:
    for kind in ("stringValue", "boolValue", "doubleValue"):
        if kind in value:
            return value[kind]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [_value(v) for v in value["arrayValue"].get("values", [])]
    return None


def _iso(nanos: Any) -> str:
    seconds, rest = divmod(int(nanos or 0), 1_000_000_000)
    when = datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")
