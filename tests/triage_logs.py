"""Builders of small logs in every format the triage reads, for the triage tests."""

from __future__ import annotations

import json
from typing import Any

from event_models import MODELS, event

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def mas_event(
    event_type: str, n: int = 0, off_schema: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """One of our run-log events, built through the writer's model (see `event_models.event`),
    with the fields every event has (None fields left out). A type no model writes (a newer
    one) is written as given; `off_schema` sets fields past the model (a status no writer
    writes), for the tests of what a reader does with them."""
    head = {"v": 1, "ts": f"2026-11-21T02:{n // 60 % 60:02d}:{n % 60:02d}.000000Z", "run_id": "r1"}
    head |= {"trace_id": TRACE, "span_id": f"{n:016x}"}
    if event_type not in MODELS:
        given = {k: v for k, v in fields.items() if v is not None}
        return {**head, **given, "type": event_type}
    return event(event_type, **(head | fields)) | (off_schema or {})


def llm(n: int, agent: str = "scorer", task: str = "score", **fields: Any) -> dict[str, Any]:
    """An llm_call event; `n` is the turn and sets the timestamp."""
    base = {"agent": agent, "task": task, "turn": n, "provider": "openai", "model": "gpt-4o-mini"}
    base |= {"status": "ok", "input_tokens": 100, "output_tokens": 10, "cost_usd": 0.001}
    base |= {"output_digest": f"out{n}"}
    return mas_event("llm_call", n, **(base | fields))


def tool(
    n: int, name: str = "search", args: str = "a1", result: str | None = None, **fields: Any
) -> dict[str, Any]:
    """A tool_call event."""
    base = {"agent": "scorer", "task": "score", "turn": n, "tool": name, "args_digest": args}
    base |= {"result_digest": result or f"res{n}", "status": "ok"}
    return mas_event("tool_call", n, **(base | fields))


def run(*events: dict[str, Any], finished: bool = True) -> list[dict[str, Any]]:
    """A whole run: run_started, a task, the events, and (if finished) the ends."""
    start = [
        mas_event("run_started", 0, crew="c", crew_path="c.yaml", process="sequential"),
        mas_event("task_started", 0, agent="scorer", task="score"),
    ]
    end = [
        mas_event("task_finished", 99, agent="scorer", task="score", status="ok"),
        mas_event(
            "run_finished",
            99,
            status="ok",
            duration_s=1.0,
            llm_calls=1,
            tool_calls=0,
            input_tokens=0,
            output_tokens=0,
        ),
    ]
    return [*start, *events, *(end if finished else [])]


def jsonl(events: list[dict[str, Any]]) -> str:
    """Events as JSON lines."""
    return "".join(json.dumps(e) + "\n" for e in events)


def attr(key: str, value: Any) -> dict[str, Any]:
    """An OTLP KeyValue, typed the way the JSON encoding types it (int64 as a string)."""
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def otlp_span(
    span: str, parent: str, name: str, attrs: dict[str, Any], *, start: int = 1, error: str = ""
) -> dict[str, Any]:
    """One OTLP span as JSON: hex ids, integer kind, nanosecond strings, status code 2 on error."""
    status = {"code": 2, "message": error} if error else {"code": 1}
    return {
        "traceId": TRACE,
        "spanId": span,
        "parentSpanId": parent,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(1795000000_000000000 + start * 1_000_000_000),
        "endTimeUnixNano": str(1795000000_000000000 + start * 1_000_000_000 + 5),
        "attributes": [attr(k, v) for k, v in attrs.items()],
        "status": status,
    }


def otlp_line(*spans: dict[str, Any]) -> str:
    """One line of the collector's file exporter."""
    export = {
        "resourceSpans": [
            {
                "resource": {"attributes": [attr("service.name", "crew")]},
                "scopeSpans": [
                    {
                        "scope": {"name": "opentelemetry.instrumentation.openai", "version": "0.1"},
                        "spans": list(spans),
                    }
                ],
            }
        ]
    }
    return json.dumps(export) + "\n"


def agents_span(
    span: str,
    parent: str | None,
    data: dict[str, Any],
    error: dict[str, Any] | None = None,
    at: int = 1,
) -> dict[str, Any]:
    """An OpenAI Agents SDK span export."""
    return {
        "object": "trace.span",
        "id": f"span_{span}",
        "trace_id": "trace_abc",
        "parent_id": f"span_{parent}" if parent else None,
        "started_at": f"2026-11-21T02:00:{at:02d}.000000+00:00",
        "ended_at": f"2026-11-21T02:00:{at:02d}.500000+00:00",
        "span_data": data,
        "error": error,
    }
