"""The offline model's scripts: the turns an agent plays instead of the default behaviour."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from mas_cli.spec.base import MAX_WHOLE, Spec


class ScriptToolCall(Spec):
    """A tool call in an offline script."""

    name: str
    """The tool to call."""
    arguments: dict[str, Any] = {}
    """Its arguments."""


class ScriptError(Spec):
    """A failed call in an offline script, as a provider would fail it."""

    status: int = Field(default=500, le=MAX_WHOLE)
    """HTTP status the failure stands for: 429 and 5xx are retried, others are not."""
    message: str = "scripted failure"
    """The error message."""
    retry_after_s: float | None = None
    """The wait the provider asks for, as a retry-after header would."""


class ScriptTurn(Spec):
    """One turn an offline model plays: text, structured data, tool calls, or an error."""

    text: str | None = None
    """A text answer (ends the task unless it fails output_schema)."""
    data: Any = None
    """A structured answer, sent as JSON."""
    tool_calls: list[ScriptToolCall] | None = None
    """Tools to call this turn."""
    error: ScriptError | None = None
    """Fail this call."""
    delay_s: float = Field(default=0, ge=0)
    """Take this long to answer, as a slow model would."""

    @model_validator(mode="after")
    def _one_kind(self) -> ScriptTurn:
        given = [k for k in ("text", "data", "tool_calls", "error") if k in self.model_fields_set]
        if len(given) != 1:
            raise ValueError("give exactly one of text, data, tool_calls or error")
        return self


class Script(Spec):
    """The turns an agent's offline model plays, in order, across the whole run."""

    turns: list[ScriptTurn] = Field(min_length=1)
    """The turns, in order."""
    repeat: bool = False
    """Start again from the first turn when they run out (an agent that never stops)."""

    @model_validator(mode="before")
    @classmethod
    def _list_shorthand(cls, value: Any) -> Any:
        return {"turns": value} if isinstance(value, list) else value
