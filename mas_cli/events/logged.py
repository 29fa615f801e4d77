"""Run-log events as read back: one msgspec Struct per event type, decoded in C, no pydantic.

The read-only commands (`runs`, `show`, `cost-report`, `cache stats`) read our own log with
these; the writer's pydantic models (events/models.py) stay the one definition of the log.
Each Struct here names the same fields, with the same types and defaults, as its model:
tests/test_logged_events.py derives both from each other and fails on any difference, and
compares what both readers make of real and odd logs.

`read_line` gives the event of a line, or raises `NotAnEvent`. It is the pydantic reader's
equal: a line msgspec cannot take as is (a value pydantic's lax mode converts, such as `true`
for an int or a `NaN` cost) goes to `models.read_event`, imported then and only then, and its
event comes back as the Struct; a line that is not JSON, or has no known `type`, or no envelope,
is not an event for either reader and never loads pydantic.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from mas_cli.events.counts import Tokens

SCHEMA_VERSION = 1

RunStatus = Literal["ok", "failed", "stopped", "interrupted"]
TaskStatus = Literal["ok", "failed", "stopped", "skipped", "cancelled"]
CallStatus = Literal["ok", "error", "timeout", "cancelled"]
ToolStatus = Literal["ok", "error", "timeout", "refused", "interrupted"]


NOT_WRITTEN = "not written: "
"""How the reason of a write that was not made, and not refused for itself, begins: an answer
without the field, or a task whose other write was refused (its writes are all or none)."""


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", gc=False):
    """Fields every event has; the envelope (`ts`, `run_id`, `trace_id`, `span_id`) is
    required on reading, as `models.read_event` requires it."""

    v: int = SCHEMA_VERSION
    ts: str
    run_id: str
    trace_id: str
    span_id: str
    parent_id: str | None = None
    agent: str | None = None
    task: str | None = None
    turn: int | None = None

    @property
    def type(self) -> str:
        """The event's type, as the log names it."""
        tag: str = self.__struct_config__.tag  # type: ignore[assignment]
        return tag


class RunStarted(Event, frozen=True, kw_only=True, tag="run_started"):
    crew: str
    crew_path: str
    process: str
    inputs: dict[str, Any] = {}
    models: dict[str, str] = {}
    endpoints: dict[str, str] | None = None
    limits: dict[str, Any] = {}
    offline: bool = False
    replay_of: str | None = None
    mas_version: str = ""
    resumed_from: str | None = None
    batch_id: str | None = None
    item_key: str | None = None


class TaskStarted(Event, frozen=True, kw_only=True, tag="task_started"):
    depends_on: list[str] = []
    prompt_digest: str = ""


class LlmCall(Event, frozen=True, kw_only=True, tag="llm_call"):
    provider: str
    model: str
    response_model: str | None = None
    attempt: int = 1
    status: CallStatus = "ok"
    error: str | None = None
    http_status: int | None = None
    input_tokens: Tokens = 0
    output_tokens: Tokens = 0
    cache_read_tokens: Tokens = 0
    cache_write_tokens: Tokens = 0
    reasoning_tokens: Tokens = 0
    usage_source: Literal["provider", "estimate"] = "estimate"
    raw_usage: dict[str, Any] | None = None
    cost_usd: float | None = None
    cost_source: Literal["proxy"] | None = None
    latency_s: float = 0.0
    wait_s: float = 0.0
    finish_reason: str | None = None
    tool_calls: list[str] = []
    output_digest: str | None = None
    output_shape: str | None = None
    output_varied: str | None = None
    replayed: bool | None = None


class ToolStarted(Event, frozen=True, kw_only=True, tag="tool_started"):
    tool: str
    tool_call_id: str | None = None
    args_digest: str
    idempotency_key: str


class ToolCallEvent(Event, frozen=True, kw_only=True, tag="tool_call"):
    tool: str
    server: str | None = None
    tool_call_id: str | None = None
    args_digest: str
    args_shape: str | None = None
    args_varied: str | None = None
    result_digest: str | None = None
    status: ToolStatus = "ok"
    error: str | None = None
    latency_s: float = 0.0
    cached: bool = False
    cache_key: str | None = None
    saved_s: float | None = None
    output_bytes: int = 0
    idempotency_key: str | None = None
    result: str | None = None
    replayed: bool | None = None


class StateWrite(Event, frozen=True, kw_only=True, tag="state_write"):
    key: str
    value: Any = None
    read_version: int
    version: int | None = None
    writer: str
    accepted: bool
    reason: str | None = None


class LimitHitEvent(Event, frozen=True, kw_only=True, tag="limit_hit"):
    kind: str
    value: float
    threshold: float
    scope: Literal["run", "agent", "task", "batch"]
    message: str
    chain: list[str] = []


class Handoff(Event, frozen=True, kw_only=True, tag="handoff"):
    from_agent: str
    to_agent: str
    delegation: str
    instruction_digest: str
    depth: int
    chain: list[str] = []


class Retry(Event, frozen=True, kw_only=True, tag="retry"):
    what: Literal["output_validation", "llm_call", "tool_arguments"]
    attempt: int
    reason: str
    wait_s: float = 0.0


class RateLimited(Event, frozen=True, kw_only=True, tag="rate_limited"):
    limit: str
    reason: str
    wait_s: float


class HistoryTrimmed(Event, frozen=True, kw_only=True, tag="history_trimmed"):
    dropped_messages: int
    tokens_before: Tokens
    tokens_after: Tokens


class Warning_(Event, frozen=True, kw_only=True, tag="warning"):
    message: str


class TaskFinished(Event, frozen=True, kw_only=True, tag="task_finished"):
    status: TaskStatus
    reason: str | None = None
    turns: int = 0
    output_digest: str | None = None
    input_tokens: Tokens = 0
    output_tokens: Tokens = 0
    cost_usd: float | None = None
    duration_s: float = 0.0
    answer_stripped: str | None = None
    carried_from: str | None = None
    output: str | None = None
    data: Any = None


class RunFinished(Event, frozen=True, kw_only=True, tag="run_finished"):
    status: RunStatus
    reason: str | None = None
    duration_s: float
    llm_calls: int
    tool_calls: int
    input_tokens: Tokens
    output_tokens: Tokens
    cache_read_tokens: Tokens = 0
    cache_write_tokens: Tokens = 0
    cost_usd: float | None = None
    tasks: dict[str, int] = {}
    price_data_version: str | None = None


AnyEvent = (
    RunStarted
    | TaskStarted
    | LlmCall
    | ToolStarted
    | ToolCallEvent
    | StateWrite
    | LimitHitEvent
    | Handoff
    | Retry
    | RateLimited
    | HistoryTrimmed
    | Warning_
    | TaskFinished
    | RunFinished
)
EVENTS: dict[str, type[Event]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in (
        RunStarted, TaskStarted, LlmCall, ToolStarted, ToolCallEvent, StateWrite, LimitHitEvent,
        Handoff, Retry, RateLimited, HistoryTrimmed, Warning_, TaskFinished, RunFinished,
    )
}  # fmt: skip
"""Each event type's Struct, by the `type` the log names it with."""

ENVELOPE = ("ts", "run_id", "trace_id", "span_id")
_DECODER: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent, strict=False)
_ANY = msgspec.json.Decoder()


class NotAnEvent(Exception):
    """A log line that is not an event (bad JSON, unknown type, a wrong field, no envelope)."""


def read_line(line: bytes) -> AnyEvent:
    """One line of a run log as its event; fields this version does not know are ignored.

    Raises:
        NotAnEvent: the line is not an event, as `models.read_event` would say.
    """
    try:
        return _DECODER.decode(line)
    except (msgspec.DecodeError, RecursionError) as exc:
        if not _maybe_lax(line):
            raise NotAnEvent(str(exc)) from None
    return _read_lax(line)


def _maybe_lax(line: bytes) -> bool:
    """Whether pydantic could still read a line msgspec refused: an object with a known type
    and the envelope, or a whole object msgspec cannot parse (pydantic reads NaN, Infinity and
    1e400); never a cut line or other text."""
    try:
        data = _ANY.decode(line)
    except (msgspec.DecodeError, RecursionError):
        text = line.strip()
        return text.startswith(b"{") and text.endswith(b"}")
    if not isinstance(data, dict):
        return False
    kind = data.get("type")
    return isinstance(kind, str) and kind in EVENTS and all(name in data for name in ENVELOPE)


def _read_lax(line: bytes) -> AnyEvent:
    from pydantic import ValidationError

    from mas_cli.events.models import read_event, why_not

    try:
        return from_model(read_event(line))
    except ValidationError as exc:
        raise NotAnEvent(why_not(exc)) from None


def from_model(event: Any) -> AnyEvent:
    """The Struct of a pydantic event (`models.Event`), field for field."""
    cls = EVENTS[event.type]
    values = {f: getattr(event, f) for f in cls.__struct_fields__}
    made: AnyEvent = cls(**values)  # type: ignore[assignment]
    return made


def as_json(event: Event) -> dict[str, Any]:
    """The event as `model_dump(mode="json")` gives its model: every field, in the model's
    order (the envelope, then `type`, then the event's own fields)."""
    values = msgspec.to_builtins(event)  # `type` first: put back after the envelope
    kind = values.pop("type")
    shared = {name: values.pop(name) for name in Event.__struct_fields__}
    return {**shared, "type": kind, **values}
