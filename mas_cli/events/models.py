"""Run-log events: one pydantic model per type, told apart by `type`, versioned by `v`.

Every event carries the run and trace ids, its own span id and its parent's, so a log can be
exported as OpenTelemetry spans. Field names follow the OpenTelemetry GenAI semantic
conventions, minus the `gen_ai.` prefix, where one exists:

    provider            gen_ai.provider.name
    model               gen_ai.request.model
    response_model      gen_ai.response.model
    input_tokens        gen_ai.usage.input_tokens     (all input, cached included)
    output_tokens       gen_ai.usage.output_tokens    (reasoning included)
    cache_read_tokens   gen_ai.usage.cache_read.input_tokens
    cache_write_tokens  gen_ai.usage.cache_creation.input_tokens
    finish_reason       gen_ai.response.finish_reasons
    agent               gen_ai.agent.name
    tool, tool_call_id  gen_ai.tool.name, gen_ai.tool.call.id

Events are built where they happen, as typed objects (`LlmCall(provider=..., ...)`), and the
run's sink fills the envelope (`ts`, `run_id`, `trace_id`, `span_id`, `parent_id`). Building
one refuses a field the model does not declare, so a misspelling is an error, not a stray key
in the log. Reading is more forgiving: `read_event` drops the fields a newer or older mas wrote
that this one does not know, and still requires the envelope.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from mas_cli.events.counts import MAX_TOKENS

SCHEMA_VERSION = 1

RunStatus = Literal["ok", "failed", "stopped", "interrupted"]
TaskStatus = Literal["ok", "failed", "stopped", "skipped", "cancelled"]
CallStatus = Literal["ok", "error", "timeout", "cancelled"]
ToolStatus = Literal["ok", "error", "timeout", "refused", "interrupted"]
Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
"""A token count: a line with one below 0 or past MAX_TOKENS is not an event (events/counts.py)."""

ENVELOPE = ("ts", "run_id", "trace_id", "span_id")
"""What the sink fills in and a log line must have; blank on an event not yet emitted."""
READING = {"reading": True}
"""The validation context of a log read back: unknown fields are dropped, not refused."""


class Event(BaseModel):
    """Fields every event has."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    v: int = SCHEMA_VERSION
    ts: str = ""
    run_id: str = ""
    trace_id: str = ""
    span_id: str = ""
    parent_id: str | None = None
    agent: str | None = None
    task: str | None = None
    turn: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _tolerated(cls, data: Any, info: ValidationInfo) -> Any:
        """Reading a log (context READING): a line missing its envelope is not an event, and
        fields this version does not declare are dropped."""
        if not (info.context and info.context.get("reading")) or not isinstance(data, dict):
            return data
        missing = [name for name in ENVELOPE if name not in data]
        if missing:
            raise ValueError(f"{', '.join(missing)}: field required")
        if data.keys() <= cls.model_fields.keys():
            return data
        return {key: value for key, value in data.items() if key in cls.model_fields}


class RunStarted(Event):
    """The run began: what crew, with which inputs, models and limits."""

    type: Literal["run_started"] = "run_started"
    crew: str
    crew_path: str
    process: str
    inputs: dict[str, Any] = {}
    models: dict[str, str] = {}
    endpoints: dict[str, str] | None = None
    """Where each model's calls go (scheme://host[:port]/path, no credentials); absent when no
    call leaves the machine (offline, replay)."""
    limits: dict[str, Any] = {}
    offline: bool = False
    replay_of: str | None = None
    mas_version: str = ""
    resumed_from: str | None = None
    """`mas resume`: the run this one continues (its own `resumed_from` leads further back)."""
    batch_id: str | None = None
    """The batch the run is an item of (<home>/batches/<batch_id>/); absent for a lone run."""
    item_key: str | None = None
    """The item's key in its batch."""


class TaskStarted(Event):
    """A task began (its span parents the task's turns)."""

    type: Literal["task_started"] = "task_started"
    depends_on: list[str] = []
    prompt_digest: str = ""


class LlmCall(Event):
    """One model call attempt, successful or not; retries are attempts of their own."""

    type: Literal["llm_call"] = "llm_call"
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
    """`proxy`: cost_usd is what the proxy reported (x-litellm-response-cost), mas has no price."""
    latency_s: float = 0.0
    wait_s: float = 0.0
    finish_reason: str | None = None
    tool_calls: list[str] = []
    output_digest: str | None = None
    output_shape: str | None = None
    """When the output holds volatile parts (ids, times, counters): the digest without them."""
    output_varied: str | None = None
    """Those parts, named, each with a short digest (`volatile.summary`)."""
    replayed: bool | None = None
    """`mas resume`: answered from the recording of the run resumed; no spend, cost 0, and
    never counted as a call or as spend by any report."""


class ToolStarted(Event):
    """A side_effect tool call is about to run: a resume finds it "in flight" if no tool_call
    with the same idempotency key follows."""

    type: Literal["tool_started"] = "tool_started"
    tool: str
    tool_call_id: str | None = None
    args_digest: str
    idempotency_key: str


class ToolCallEvent(Event):
    """One tool call: its arguments' digest, whether the cache answered, how it went."""

    type: Literal["tool_call"] = "tool_call"
    tool: str
    server: str | None = None
    """The MCP server the tool comes from (its name under tools:); None for other tools."""
    tool_call_id: str | None = None
    args_digest: str
    args_shape: str | None = None
    """When the arguments hold volatile parts (ids, times, counters): the digest without them."""
    args_varied: str | None = None
    """Those parts, named, each with a short digest (`volatile.summary`)."""
    result_digest: str | None = None
    status: ToolStatus = "ok"
    error: str | None = None
    latency_s: float = 0.0
    cached: bool = False
    cache_key: str | None = None
    saved_s: float | None = None
    output_bytes: int = 0
    idempotency_key: str | None = None
    """side_effect tools: the key the tool was given (run, task, tool, arguments, occurrence)."""
    result: str | None = None
    """side_effect tools: the output, kept so that a resume returns it instead of calling again."""
    replayed: bool | None = None
    """`mas resume`: a side_effect call that had completed, answered from the earlier run's log."""


class StateWrite(Event):
    """A shared-state write, accepted or refused, with the versions it read and made."""

    type: Literal["state_write"] = "state_write"
    key: str
    value: Any = None
    read_version: int
    version: int | None = None
    writer: str
    accepted: bool
    reason: str | None = None


class LimitHitEvent(Event):
    """A guard stopped something: which limit, its threshold, the value that passed it."""

    type: Literal["limit_hit"] = "limit_hit"
    kind: str
    value: float
    threshold: float
    scope: Literal["run", "agent", "task", "batch"]
    message: str
    chain: list[str] = []


class Handoff(Event):
    """An agent delegated work to another (its span parents the worker's task)."""

    type: Literal["handoff"] = "handoff"
    from_agent: str
    to_agent: str
    delegation: str
    instruction_digest: str
    depth: int
    chain: list[str] = []


class Retry(Event):
    """Something is being tried again: an invalid output re-asked, a failed model call retried."""

    type: Literal["retry"] = "retry"
    what: Literal["output_validation", "llm_call", "tool_arguments"]
    attempt: int
    reason: str
    wait_s: float = 0.0


class RateLimited(Event):
    """A model call waited for a rate-limit bucket (`rate_limits:`, or a 429's reset headers)."""

    type: Literal["rate_limited"] = "rate_limited"
    limit: str
    reason: str
    wait_s: float


class HistoryTrimmed(Event):
    """Old tool exchanges were dropped to keep a conversation under max_history_tokens."""

    type: Literal["history_trimmed"] = "history_trimmed"
    dropped_messages: int
    tokens_before: Tokens
    tokens_after: Tokens


class Warning_(Event):
    """Something went wrong that did not stop the run (a cache that cannot be written, ...)."""

    type: Literal["warning"] = "warning"
    message: str


class TaskFinished(Event):
    """A task ended: its status, why, and what it spent."""

    type: Literal["task_finished"] = "task_finished"
    status: TaskStatus
    reason: str | None = None
    turns: int = 0
    output_digest: str | None = None
    input_tokens: Tokens = 0
    output_tokens: Tokens = 0
    cost_usd: float | None = None
    duration_s: float = 0.0
    answer_stripped: str | None = None
    """What was stripped around a JSON answer: a <think> block, a ``` fence, prose."""
    carried_from: str | None = None
    """`mas resume`: the task ended ok in this earlier run and was not run again."""
    output: str | None = None
    data: Any = None
    """A carried task's output (text, and JSON when it has an output_schema), so that a resume
    of this run finds it here."""


class RunFinished(Event):
    """The run ended: status, why, and the totals a report can check itself against."""

    type: Literal["run_finished"] = "run_finished"
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


AnyEvent = Annotated[
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
    | RunFinished,
    Field(discriminator="type"),
]


@functools.cache
def _event_adapter() -> TypeAdapter[AnyEvent]:
    return TypeAdapter(AnyEvent)


if TYPE_CHECKING:
    EVENT_ADAPTER: TypeAdapter[AnyEvent]
    """Every event type, told apart by `type`: built on first use, with the models it needs
    (each model is built when first made or read: a run makes half of them)."""


def __getattr__(name: str) -> Any:
    if name == "EVENT_ADAPTER":
        return _event_adapter()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def read_event(line: str | bytes) -> AnyEvent:
    """One line of a run log as its event, tolerating fields this version does not know.

    Raises:
        pydantic.ValidationError: the line is not an event (bad JSON, unknown type, a field
            of the wrong type, or no envelope).
    """
    return _event_adapter().validate_json(line, context=READING)


def why_not(exc: ValidationError) -> str:
    """Why a line is not an event, naming the field when one is to blame
    (`input_tokens: Input should be less than or equal to 1000000000000`)."""
    error = exc.errors()[0]
    loc = error["loc"]
    where = [str(part) for part in (loc[1:] if loc[:1] in _TAGS else loc)]  # past the type
    return f"{'.'.join(where)}: {error['msg']}" if where else str(error["msg"])


_TAGS = {(cls.model_fields["type"].default,) for cls in get_args(get_args(AnyEvent)[0])}
"""Each event type as the first place of an error's `loc` (from the union: `('llm_call',)`)."""
