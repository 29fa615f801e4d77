"""The records of llm.jsonl as replay reads them: every field checked, so a malformed or
tampered record is an error naming its file and line, never a crash mid-run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mas_cli.errors import UsageError
from mas_cli.events.text import loads
from mas_cli.llm.types import Completion, LlmFailure, Message, Role, ToolCall, Usage

MAX_COUNT = 10**15  # tokens: far above any real call, far below what breaks a sum or a price
HINT = "replay needs a run recorded by this version of mas; run without --replay to record anew"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class ToolCallDoc(_Doc):
    id: str
    name: str
    arguments: dict[str, Any]
    arguments_error: str | None = None


class MessageDoc(_Doc):
    role: Role
    content: str = ""
    tool_calls: list[ToolCallDoc] = []
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False


Count = Field(default=0, ge=0, le=MAX_COUNT)


class UsageDoc(_Doc):
    input_tokens: int = Count
    output_tokens: int = Count
    cache_read_tokens: int = Count
    cache_write_tokens: int = Count
    reasoning_tokens: int = Count
    source: Literal["provider", "estimate"] = "estimate"
    raw: dict[str, Any] | None = None


class ResponseDoc(_Doc):
    message: MessageDoc
    usage: UsageDoc
    finish_reason: str = "stop"
    response_model: str | None = None


class ErrorDoc(_Doc):
    kind: str
    retryable: bool
    status: int | None = Field(default=None, ge=100, le=599)
    retry_after_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    message: str
    hint: str | None = None


class RecordDoc(_Doc):
    """One recorded attempt: who asked, what, and the answer or the failure."""

    agent: str
    task: str
    turn: int = Field(ge=1)
    attempt: int = Field(ge=1)
    request: dict[str, Any]
    response: ResponseDoc | None = None
    error: ErrorDoc | None = None

    @model_validator(mode="after")
    def _one_outcome(self) -> RecordDoc:
        if (self.response is None) == (self.error is None):
            raise ValueError("a record holds exactly one of response or error")
        return self

    def outcome(self) -> Completion | LlmFailure:
        """The recorded answer, or the recorded failure (to be raised again)."""
        if self.error is not None:
            e = self.error
            return LlmFailure(
                e.message, kind=e.kind, retryable=e.retryable, status=e.status,
                retry_after_s=e.retry_after_s, hint=e.hint,
            )  # fmt: skip
        assert self.response is not None
        return _completion(self.response)


def _completion(doc: ResponseDoc) -> Completion:
    m = doc.message
    calls = tuple(ToolCall(**c.model_dump()) for c in m.tool_calls)
    message = Message(**{**m.model_dump(), "tool_calls": calls})
    return Completion(
        message=message,
        usage=Usage(**doc.usage.model_dump()),
        finish_reason=doc.finish_reason,
        response_model=doc.response_model,
    )


def read_records(path: Path) -> list[RecordDoc]:
    """Every record of a recording, checked.

    Raises:
        UsageError: the file cannot be read, or a line is not a well-formed record
            (the message names the file, the line and the first bad field).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise UsageError(f"{path}: cannot be read ({why})", hint=HINT) from None
    return [_record(path, number, line) for number, line in enumerate(lines, 1)]


def _record(path: Path, number: int, line: str) -> RecordDoc:
    try:
        return RecordDoc.model_validate(loads(line))
    except ValueError as exc:  # not JSON
        if not isinstance(exc, ValidationError):
            raise UsageError(f"{path}:{number}: not a JSON record", hint=HINT) from None
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "(record)"
        raise UsageError(f"{path}:{number}: {where}: {first['msg']}", hint=HINT) from None
