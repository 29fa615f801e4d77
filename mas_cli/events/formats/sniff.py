"""Tell a log's format from its first lines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from mas_cli.events.formats.source import LineSource

_ANY = msgspec.json.Decoder()


def sniff(head: list[bytes]) -> str:
    """`mas`, `otlp`, `openai-agents` or `text`, by the first JSON object that says which."""
    for line in head:
        if not line.strip():
            continue
        kind = _json_kind(line)
        if kind:
            return kind
    return "text"


def sniff_source(source: LineSource) -> str:
    """The format of an opened input: a JSON document's (`otlp`, `jaeger`, `langfuse`,
    `openai-agents`: the source is then marked a document), else by its first lines, else
    `text`. A document is tried first when its first line is not whole (pretty-printed)."""
    head = source.peek or b"".join(source.head)
    if source.document and (found := _document(source, head)):
        return found
    kind = sniff(source.head if source.head else head.split(b"\n")[:-1])
    if kind != "text" or source.document:
        return kind
    return _document(source, head) or "text"


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
    return None
