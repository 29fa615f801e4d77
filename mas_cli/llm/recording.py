"""The run's model calls, recorded to `llm.jsonl` so that `mas run --replay` can serve them again.

One JSON object per attempt, flushed as written:

    {"v": 1, "ts": ..., "agent": ..., "task": ..., "turn": 2, "attempt": 1,
     "provider": "openai", "model": "gpt-4o-mini",
     "request":  {model, system, messages, tools, output_schema},    what replay matches
     "response": {message, usage, finish_reason, response_model},    or
     "error":    {kind, retryable, status, retry_after_s, message, hint},
     "wire":     {"request": body sent, "response": body received},  for audits
     "latency_s": 0.41}

Never recorded: keys, headers (auth or not), the key variable's name, timeouts. A request's
`model` holds only what shapes the answer (provider, model, base_url, temperature,
max_tokens, params, prompt_caching).
"""

from __future__ import annotations

import asyncio
import functools
import time
from pathlib import Path
from typing import Any

from mas_cli import records
from mas_cli.events.diskio import LineFile
from mas_cli.events.jsonsafe import dumps, line_bytes
from mas_cli.events.text import fix_text, fix_value
from mas_cli.events.writer import now_iso
from mas_cli.llm.types import (
    Completion,
    LlmFailure,
    Message,
    Provider,
    Request,
    ToolCall,
    Usage,
)
from mas_cli.redact import Secrets

RECORD_VERSION = 1
LLM_LOG = "llm.jsonl"
# The parts of a ModelSpec that shape an answer; never headers or the key variable.
MODEL_FIELDS = (
    "provider",
    "model",
    "base_url",
    "temperature",
    "max_tokens",
    "params",
    "prompt_caching",
)


def request_doc(request: Request) -> dict[str, Any]:
    """What determines the answer to a request, as JSON: what replay compares."""
    model = request.model.model_dump(include=set(MODEL_FIELDS))
    return {
        "model": {k: model[k] for k in MODEL_FIELDS},
        "system": request.system,
        "messages": [_message_doc(m) for m in request.messages],
        "tools": [_fields_of(t) for t in request.tools],
        "output_schema": request.output_schema,
    }


def completion_doc(completion: Completion) -> dict[str, Any]:
    """A completion as JSON (its wire bodies go to the record's `wire`)."""
    return {
        "message": _message_doc(completion.message),
        "usage": _fields_of(completion.usage),
        "finish_reason": completion.finish_reason,
        "response_model": completion.response_model,
    }


def completion_from(doc: dict[str, Any]) -> Completion:
    """The completion a record holds."""
    return Completion(
        message=_message_from(doc["message"]),
        usage=Usage(**doc["usage"]),
        finish_reason=doc["finish_reason"],
        response_model=doc.get("response_model"),
    )


def failure_doc(failure: LlmFailure) -> dict[str, Any]:
    """A failure as JSON; its message is already scrubbed by the provider."""
    return {
        "kind": failure.kind,
        "retryable": failure.retryable,
        "status": failure.status,
        "retry_after_s": failure.retry_after_s,
        "message": failure.message,
        "hint": failure.hint,
    }


def _message_doc(message: Message) -> dict[str, Any]:
    doc = _fields_of(message)
    doc["tool_calls"] = [_fields_of(c) for c in message.tool_calls]
    return doc


_NAMES: dict[type, tuple[str, ...]] = {}


def _fields_of(obj: Any) -> dict[str, Any]:
    """A record's fields as a dict, values as they are: no deep copy (dataclasses.asdict
    copied every nested dict, ~10 ms an item in a batch). The doc is only ever serialised, and
    scrubbing builds new values, so sharing the values is safe."""
    names = _NAMES.get(type(obj))
    if names is None:
        names = _NAMES[type(obj)] = obj.__struct_fields__
    return {name: getattr(obj, name) for name in names}


def _message_from(doc: dict[str, Any]) -> Message:
    calls = tuple(ToolCall(**c) for c in doc.get("tool_calls", []))
    return Message(**{**doc, "tool_calls": calls})


class LlmLog:
    """The append-only llm.jsonl of one run."""

    def __init__(self, path: Path, secrets: Secrets | None = None) -> None:
        if not path.parent.is_dir():  # the run's folder, made by its EventWriter already
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.secrets = secrets or Secrets()
        self.file = LineFile(path)  # whole records only: a full disk never leaves half a line

    def write(self, request: Request, outcome: dict[str, Any]) -> None:
        """Append one attempt: where (the request's call site), the request, and its outcome
        (response or error)."""
        site = request.site
        record = {
            "v": RECORD_VERSION,
            "ts": now_iso(),
            "agent": site.agent,
            "task": site.task,
            "turn": site.turn,
            "attempt": site.attempt,
            "provider": request.model.provider,
            "model": request.model.model,
            "request": request_doc(request),
            **outcome,
        }
        # The one place a record is scrubbed. The line is searched for every secret (each in its
        # JSON-escaped form too, escaped as the line escapes it): most lines hold none, and only
        # one that does is walked and scrubbed, value by value, then written again.
        line = line_bytes(record)
        if line is None or holds_secret(line, self.secrets):
            record = self.secrets.scrub_value(record)
            line = line_bytes(record)
        if line is None:  # a lone surrogate (replaced here), or a value msgspec cannot write
            line = (fix_text(dumps(record, ensure_ascii=False, default=str)) + "\n").encode()
        self.file.append(line)

    def close(self) -> None:
        """Close the file."""
        self.file.close()

    def __enter__(self) -> LlmLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Recording:
    """A provider whose every attempt is written to the run's LlmLog."""

    def __init__(self, inner: Provider, log: LlmLog) -> None:
        self.inner = inner
        self.name = inner.name
        self.log = log

    async def aclose(self) -> None:
        """Close the provider it records."""
        await self.inner.aclose()

    async def complete(self, request: Request) -> Completion:
        """The inner provider's answer (or failure), scrubbed of every known secret (what the
        engine, and so the next request, the run log and output.json, gets) and recorded."""
        started = time.monotonic()
        try:
            completion = fixed_completion(await self.inner.complete(request))
            completion = scrub_completion(completion, self.log.secrets)
        except LlmFailure as failure:
            scrub_failure(failure, self.log.secrets)
            self._write(request, started, {"error": failure_doc(failure)})
            raise
        except asyncio.CancelledError:
            self._write(request, started, {"error": _cancelled()})
            raise
        wire = completion.raw or None
        self._write(request, started, {"response": completion_doc(completion), "wire": wire})
        return completion

    def _write(self, request: Request, started: float, outcome: dict[str, Any]) -> None:
        latency = round(time.monotonic() - started, 6)
        self.log.write(request, {**outcome, "latency_s": latency})


def fixed_completion(completion: Completion) -> Completion:
    """The completion with lone surrogates replaced, so it can be logged, recorded and shown."""
    message = completion.message
    calls = tuple(
        records.replace(c, name=fix_text(c.name), arguments=fix_value(c.arguments))
        for c in message.tool_calls
    )
    fixed = records.replace(message, content=fix_text(message.content), tool_calls=calls)
    usage = records.replace(completion.usage, raw=fix_value(completion.usage.raw))
    return records.replace(completion, message=fixed, usage=usage, raw=_fixed_body(completion.raw))


def _fixed_body(raw: Any) -> Any:
    """A wire body with lone surrogates replaced; one msgspec can write holds none, so the
    (large) body is walked only when it cannot."""
    return raw if raw is None or line_bytes(raw) is not None else fix_value(raw)


def scrub_completion(completion: Completion, secrets: Secrets) -> Completion:
    """The answer as the run may keep it: text, tool-call arguments and wire bodies scrubbed."""
    if not secrets.values:
        return completion
    message = completion.message
    calls = tuple(
        records.replace(c, arguments=secrets.scrub_value(c.arguments)) for c in message.tool_calls
    )
    message = records.replace(message, content=secrets.scrub(message.content), tool_calls=calls)
    raw = completion.raw
    if raw is not None:  # a wire body is large: walked only when its JSON holds a secret
        line = line_bytes(raw)
        raw = (
            raw
            if line is not None and not holds_secret(line, secrets)
            else secrets.scrub_value(raw)
        )
    return records.replace(completion, message=message, raw=raw)


def holds_secret(line: bytes, secrets: Secrets) -> bool:
    """Whether a JSON line may hold any of the secrets: true whenever scrub_value would change
    the value it encodes. A string holding a secret is in the line JSON-escaped, and escaping
    goes character by character, so the line holds the secret's own escaped form."""
    needles = _needles(secrets)
    return needles is None or any(needle in line for needle in needles)


@functools.lru_cache(maxsize=16)
def _needles(secrets: Secrets) -> tuple[bytes, ...] | None:
    """Each secret as a JSON line holds it; None when one cannot be written (a lone surrogate):
    then every line is scrubbed."""
    found = tuple(line_bytes(value) for value in secrets.values)
    if any(line is None for line in found):
        return None
    return tuple(line[1:-2] for line in found if line is not None)  # no quotes, no newline


def scrub_failure(failure: LlmFailure, secrets: Secrets) -> None:
    """Scrub a failure's message and hint in place, before it is recorded or raised further."""
    failure.message = secrets.scrub(failure.message)
    failure.args = (failure.message,)
    failure.hint = secrets.scrub(failure.hint) if failure.hint else failure.hint


def _cancelled() -> dict[str, Any]:
    # The engine gave up on the attempt (llm_timeout_s, or the run stopping): replayed as a timeout.
    return {
        "kind": "timeout",
        "retryable": True,
        "status": None,
        "retry_after_s": None,
        "message": "the attempt did not finish (timed out or cancelled)",
        "hint": None,
    }
