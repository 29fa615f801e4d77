"""What `mas show --full` adds to the tree: model text, tool arguments and tool results.

They come from the run's recording (`llm.jsonl`, beside `events.jsonl`), read as plain JSON:
a model's answer by (task, turn, attempt), a tool call's arguments and result by its call id.
The recording is scrubbed of keys and secrets when it is written; nothing here un-scrubs it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from msgspec import Struct, field

LLM_LOG = "llm.jsonl"


class Transcript(Struct):
    """The words of a run, keyed the way its events are."""

    texts: dict[tuple[str, int, int], str] = field(default_factory=dict)
    arguments: dict[tuple[str, str], Any] = field(default_factory=dict)
    """By (task, tool call id): ids are unique within a task's conversation only."""
    results: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, record: dict[str, Any]) -> None:
        """One recorded call: its answer's text and tool calls, and the tool results it was sent."""
        task = str(record.get("task"))
        where = (task, int(record.get("turn") or 0), int(record.get("attempt") or 1))
        message = (record.get("response") or {}).get("message") or {}
        if message.get("content"):
            self.texts[where] = str(message["content"])
        for call in message.get("tool_calls") or []:
            self.arguments[(task, str(call.get("id")))] = call.get("arguments")
        for sent in (record.get("request") or {}).get("messages") or []:
            if sent.get("role") == "tool" and sent.get("tool_call_id"):
                self.results[(task, str(sent["tool_call_id"]))] = str(sent.get("content") or "")


def read_transcript(events: Path) -> Transcript:
    """The transcript of the run whose log is `events`; empty when it has no readable recording."""
    transcript = Transcript()
    try:
        with (events.parent / LLM_LOG).open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                _add_line(transcript, line)
    except OSError:
        pass
    return transcript


def _add_line(transcript: Transcript, line: str) -> None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):  # not JSON, or nested past what Python can read
        return
    if isinstance(record, dict):
        try:
            transcript.add(record)
        except (TypeError, ValueError, AttributeError):
            return
