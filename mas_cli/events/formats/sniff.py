"""Tell a log's format from its first lines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from mas_cli.events.formats.chats import chat_kind, document_kind

if TYPE_CHECKING:
    from mas_cli.events.formats.source import LineSource

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


def sniff_source(source: LineSource) -> str:
    """The format of an opened input: a JSON document's (`otlp`, `jaeger`, `langfuse`,
    `openai-agents`: the source is then marked a document), else by its first lines (a chat
    format among them), else `text`. A document is tried first when its first line is not
    whole (pretty-printed), and before a chat format that the same lines could be."""
    head = max(source.peek, b"".join(source.head), key=len)  # a first line past the peek: whole
    if source.document and (found := _document(source, head)):
        return found
    lines = [line for line in head.split(b"\n")[:-1] if line.strip()]  # blank ones say nothing
    kind = sniff(source.head or lines or [head])
    if kind in ("mas", "otlp", "openai-agents") or source.document:
        return kind
    return _document(source, head) or kind  # a trace export before a chat that looks like one


def _document(source: LineSource, head: bytes) -> str | None:
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] not in (b"{", b"["):
        return None
    from mas_cli.events.formats.documents import document_kind

    found = document_kind(head)
    if found:
        source.document = True  # read as one document, whatever its first line holds
    return found


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
