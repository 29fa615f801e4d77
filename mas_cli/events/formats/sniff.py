"""Tell a log's format from its first lines."""

from __future__ import annotations

from typing import Any

import msgspec

from mas_cli.events.formats.chats import chat_kind, document_kind

_ANY = msgspec.json.Decoder()


def sniff(head: list[bytes]) -> str:
    """`mas`, `otlp`, `openai-agents`, a chat format or `text`, by the first JSON object that
    says which (or by the start of a JSON document spread over several lines)."""
    for line in head:
        if not line.strip():
            continue
        kind = _json_kind(line)
        if kind:
            return kind
    return document_kind(b"".join(head)) or "text"


def _json_kind(line: bytes) -> str | None:
    try:
        value: Any = _ANY.decode(line)
    except (msgspec.DecodeError, RecursionError):  # too deep to decode is bad too
        return None
    chat = chat_kind(value)
    if isinstance(value, dict) and isinstance(value.get("data"), list) and value["data"]:
        value = value["data"][0]
    if isinstance(value, list) and value:
        value = value[0]
    if not isinstance(value, dict):
        return None
    if "resourceSpans" in value:
        return "otlp"
    if value.get("object") in ("trace", "trace.span"):
        return "openai-agents"
    if isinstance(value.get("type"), str) and ("run_id" in value or "trace_id" in value):
        return "mas"
    return chat
