"""How our events become OpenTelemetry span attributes, and back: the one table both ways.

`mas export` writes a run as spans (`mas_cli.export`); `mas cost-report` reads such a file back
(`events/formats/exported.py`). Both go through `to_attributes` and `from_attributes`, so a
field is named once. Fields with a GenAI semantic-convention name take it; every other field is
`mas.<field>`. Values OTLP cannot hold as attributes (maps, lists of non-strings) are JSON text.
The envelope (ids, times) lives on the span itself, not in attributes.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from pydantic import BaseModel

from mas_cli.events import models as ev

ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
DEFAULT_ENDPOINT = "http://localhost:4318"


def endpoint_from_env() -> tuple[str, str] | None:
    """The variable naming the OTLP endpoint and its value, if any (the traces-only variable
    first: its URL is used as it is, the other's gets /v1/traces added)."""
    for name in ENDPOINT_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return name, value
    return None


ENVELOPE = frozenset({"v", "ts", "trace_id", "span_id", "parent_id", "type"})
CONTENT_FIELDS = frozenset({"inputs"})
"""Fields that carry what the user or the model wrote: exported only with --include-content."""

SEMCONV: dict[str, str] = {
    "agent": "gen_ai.agent.name",
    "provider": "gen_ai.provider.name",
    "model": "gen_ai.request.model",
    "response_model": "gen_ai.response.model",
    "input_tokens": "gen_ai.usage.input_tokens",
    "output_tokens": "gen_ai.usage.output_tokens",
    "cache_read_tokens": "gen_ai.usage.cache_read.input_tokens",
    "cache_write_tokens": "gen_ai.usage.cache_creation.input_tokens",
    "reasoning_tokens": "gen_ai.usage.reasoning.output_tokens",
    "tool": "gen_ai.tool.name",
    "tool_call_id": "gen_ai.tool.call.id",
    "http_status": "http.response.status_code",
}
"""Our field -> its GenAI semantic-convention attribute (same meaning, same unit)."""

FINISH_REASONS = "gen_ai.response.finish_reasons"  # a list in the conventions, one value for us
COST = "mas.cost_usd"
SPAN_EVENTS: dict[str, type[ev.Event]] = {
    "retry": ev.Retry,
    "limit_hit": ev.LimitHitEvent,
    "state_write": ev.StateWrite,
    "rate_limited": ev.RateLimited,
    "history_trimmed": ev.HistoryTrimmed,
    "warning": ev.Warning_,
    "handoff": ev.Handoff,
}
"""Events that are moments inside a span, exported as span events named by their type."""

Scalar = str | bool | int | float
Attributes = dict[str, Scalar | list[str]]


def attribute_name(field: str) -> str:
    """The attribute that carries one of our fields."""
    if field == "finish_reason":
        return FINISH_REASONS
    return SEMCONV.get(field) or f"mas.{field}"


def to_attributes(event: BaseModel, content: bool = False) -> Attributes:
    """The event's fields as span attributes (None left out; content only when asked)."""
    out: Attributes = {}
    loose = _structured_fields(type(event))
    for name, value in event:
        if name in ENVELOPE or value is None or (name in CONTENT_FIELDS and not content):
            continue
        out[attribute_name(name)] = _attribute_value(name, value, name in loose)
    return out


@cache
def _structured_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of a model exported as JSON text (worked out once per model)."""
    return frozenset(n for n, i in model.model_fields.items() if _structured(i.annotation))


def _attribute_value(name: str, value: Any, loose: bool) -> Scalar | list[str]:
    if name == "finish_reason":
        return [str(value)]
    if isinstance(value, str | bool | int | float) and not loose:
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value) and value:
        return list(value)
    return json.dumps(value, sort_keys=True, default=str)


def from_attributes(model: type[ev.Event], attrs: dict[str, Any]) -> dict[str, Any]:
    """The fields of `model` found among the attributes, turned back into field values."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in ENVELOPE:
            continue
        key = attribute_name(name)
        if key in attrs:
            out[name] = _field_value(name, attrs[key], info.annotation)
    return out


def _field_value(name: str, value: Any, annotation: Any) -> Any:
    if name == "finish_reason" and isinstance(value, list):
        return value[0] if value else None
    if isinstance(value, str) and _structured(annotation):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _structured(annotation: Any) -> bool:
    """A field whose value is exported as JSON text: a map, a list, or anything."""
    text = str(annotation)
    return text.startswith(("dict", "list")) or text in {"Any", "typing.Any"}
