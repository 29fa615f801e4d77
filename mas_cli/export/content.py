"""`--include-content`: what each model call was asked and answered, from the run's llm.jsonl.

The recording already has every known secret masked (the run scrubbed it as it wrote); the
values of this environment's secret-looking variables are masked again here, in case the
export runs where other keys live. Attributes follow the GenAI conventions:
`gen_ai.system_instructions`, `gen_ai.input.messages`, `gen_ai.output.messages`, each JSON.

The recording and the log list model calls in nearly the same order; records read ahead of
their event wait in a dict keyed by (agent, task, turn, attempt), so memory stays small.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from mas_cli.events import models as ev
from mas_cli.events.otel import Attributes
from mas_cli.redact import Secrets

LLM_LOG = "llm.jsonl"
Key = tuple[str, str, int, int]


class Contents:
    """The recorded request and answer of each model call of one run."""

    def __init__(self, run_dir: Path) -> None:
        self.secrets = Secrets.from_environment()
        self.waiting: dict[Key, dict[str, Any]] = {}
        self.handle: IO[bytes] | None
        try:
            self.handle = (run_dir / LLM_LOG).open("rb")
        except OSError:
            self.handle = None  # an old run, or a replay: no content to give

    def for_call(self, event: ev.LlmCall) -> Attributes:
        """The content attributes of this call (none when it was not recorded)."""
        key = (event.agent or "", event.task or "", event.turn or 0, event.attempt)
        record = self.waiting.pop(key, None) or self._read_until(key)
        return self._attributes(record) if record else {}

    def close(self) -> None:
        """Let go of the recording."""
        if self.handle is not None:
            self.handle.close()

    def _read_until(self, key: Key) -> dict[str, Any] | None:
        for line in self.handle or ():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            found = _key(record)
            if found == key:
                return record
            self.waiting[found] = record
        return None

    def _attributes(self, record: dict[str, Any]) -> Attributes:
        request = record.get("request") or {}
        response = record.get("response") or {}
        out: Attributes = {"gen_ai.input.messages": self._json(_messages(request))}
        if request.get("system"):
            system = [{"type": "text", "content": request["system"]}]
            out["gen_ai.system_instructions"] = self._json(system)
        if response.get("message"):
            answer = _message(response["message"]) | {
                "finish_reason": response.get("finish_reason")
            }
            out["gen_ai.output.messages"] = self._json([answer])
        return out

    def _json(self, value: Any) -> str:
        return self.secrets.scrub(json.dumps(value, ensure_ascii=False, default=str))


def _key(record: dict[str, Any]) -> Key:
    def number(name: str) -> int:
        value = record.get(name)
        return value if isinstance(value, int) else 0

    return (
        str(record.get("agent") or ""),
        str(record.get("task") or ""),
        number("turn"),
        number("attempt"),
    )


def _messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    messages = request.get("messages")
    return (
        [_message(m) for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    )


def _message(message: dict[str, Any]) -> dict[str, Any]:
    """One of our recorded messages in the conventions' shape: a role and its parts."""
    parts: list[dict[str, Any]] = []
    if message.get("role") == "tool":
        parts.append(
            {
                "type": "tool_call_response",
                "id": message.get("tool_call_id"),
                "response": message.get("content"),
            }
        )
    elif message.get("content"):
        parts.append({"type": "text", "content": message["content"]})
    for call in message.get("tool_calls") or []:
        if isinstance(call, dict):
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": call.get("name"),
                    "arguments": call.get("arguments"),
                }
            )
    return {"role": message.get("role"), "parts": parts}
