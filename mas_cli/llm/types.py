"""What every provider speaks: our own messages, tool calls, usage and completions.

A provider is one async method, `complete(request) -> Completion`. Retries, budgets and events
belong to the engine: a provider makes one attempt and raises ProviderError when it fails,
saying whether the failure is worth retrying and after how long.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

from msgspec import Struct, field

from mas_cli.errors import ProviderError
from mas_cli.spec.model_spec import ModelSpec
from mas_cli.spec.script import Script

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(Struct, frozen=True):
    """A model asking for a tool. `arguments_error` is set when its arguments were not JSON."""

    id: str
    name: str
    arguments: dict[str, Any]
    arguments_error: str | None = None


class Message(Struct, frozen=True):
    """One message of a conversation; `tool` messages answer the call named by tool_call_id."""

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False


class ToolSchema(Struct, frozen=True):
    """A tool as the model sees it."""

    name: str
    description: str
    parameters: dict[str, Any]


class Usage(Struct, frozen=True):
    """Tokens of one call, normalized: input counts every input token, cached ones included.

    cache_read_tokens and cache_write_tokens are parts of input_tokens; reasoning_tokens is a
    part of output_tokens. `raw` is the provider's own usage object, kept for audits.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    source: Literal["provider", "estimate"] = "estimate"
    raw: dict[str, Any] | None = None

    @property
    def total(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


class CallSite(Struct, frozen=True):
    """Where a call happens: who asks (agent, task, turn), which attempt of the turn's model
    call it is (1 for the first, then retries), and the span its events hang under (the
    turn's: its model call attempts and the tool calls it asks for).

    The engine builds one per attempt and sends it with the request: guards, pacing, the run
    log, the recording and replay all read it, so none of them counts attempts of its own.
    """

    agent: str = ""
    task: str = ""
    turn: int = 1
    attempt: int = 1
    span: str | None = None


class Assignment(Struct, frozen=True):
    """One task of a manager's list: its id, the agent suggested for it, what to do."""

    task: str
    agent: str
    instruction: str


class Request(Struct, frozen=True):
    """One model call: the conversation, the tools, and where it is asked (for scripts, the
    recording and replay)."""

    model: ModelSpec
    system: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSchema, ...] = ()
    output_schema: dict[str, Any] | None = None
    timeout_s: float = 120.0
    site: CallSite = CallSite()
    plan: tuple[Assignment, ...] = ()
    """A manager's task list as data: the offline model follows it; providers send the prompt,
    which lists the same tasks in words."""


class Completion(Struct, frozen=True):
    """The model's answer to one request."""

    message: Message
    usage: Usage
    finish_reason: str = "stop"
    response_model: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    reported_cost_usd: float | None = None  # what a proxy said the call cost (LiteLLM)


class RateLimitInfo(Struct, frozen=True):
    """What a provider's rate-limit headers said: what is left, and when each window resets."""

    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    reset_requests_s: float | None = None
    reset_tokens_s: float | None = None

    def wait_s(self) -> float | None:
        """How long until an exhausted window resets; None when none is exhausted."""
        waits = [
            reset
            for remaining, reset in (
                (self.remaining_requests, self.reset_requests_s),
                (self.remaining_tokens, self.reset_tokens_s),
            )
            if remaining == 0 and reset is not None
        ]
        return max(waits) if waits else None


class ProviderOptions(Struct, frozen=True):
    """What a run gives every provider factory; each takes what concerns it."""

    scripts: Mapping[str, Script] = field(default_factory=dict)
    """The offline model: each agent's script."""
    recording: Path | None = None
    """Replay: the llm.jsonl that answers every call."""


class Provider(Protocol):
    """A model provider: one attempt per call; failures raise LlmFailure. Every provider module
    has one factory, `create(model: ModelSpec, options: ProviderOptions) -> Provider`."""

    name: str

    async def aclose(self) -> None:
        """Release what the client holds (connections); called once when the run ends."""
        ...

    async def complete(self, request: Request) -> Completion:
        """Make one call.

        Raises:
            LlmFailure: the call failed; `retryable` and `retry_after_s` say what to do next.
        """
        ...


class LlmFailure(ProviderError):
    """One failed model call, classified for the engine's retry loop.

    `kind` names the fault (rate_limit, quota, auth, server_error, timeout, malformed, ...);
    `retry_after_s` is the wait the server asked for; `rate_limit` what its headers said is left.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        retryable: bool,
        status: int | None = None,
        retry_after_s: float | None = None,
        hint: str | None = None,
        rate_limit: RateLimitInfo | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind
        self.retryable = retryable
        self.status = status
        self.retry_after_s = retry_after_s
        self.rate_limit = rate_limit
