"""Readers for every log format `mas triage` understands, into one normalized record stream.

records.py        the record types (model call, tool call, message, handoff, limit, ...)
source.py         files, gzip, stdin; numbered lines; the bad-line tally
sniff.py          which format a log is, from its first lines
mas.py            our events.jsonl (one flat msgspec struct a line, a block at a time)
otlp.py           OTLP JSON from the OpenTelemetry collector's file exporter
jsondoc.py        JSON documents of any layout, streamed: the values at a path (ijson)
documents.py      OTLP JSON documents and Jaeger's JSON export, a span at a time
langfuse.py       Langfuse trace exports (a trace and its observations)
openai_agents.py  the OpenAI Agents SDK's trace and span JSON
text.py           plain text logs, a default pattern or --pattern
chats.py          chat transcripts, group chats, SWE-agent and OpenHands trajectories
                  (conversation.py maps their messages, jsonstream.py streams JSON documents)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from importlib import import_module
from typing import TYPE_CHECKING

from mas_cli.errors import UsageError

if TYPE_CHECKING:
    from mas_cli.events.formats.records import Record
    from mas_cli.events.formats.source import BadLines, LineSource

CHAT_FORMATS = ("chat", "swe-agent", "openhands")
FORMATS = ("auto", "mas", "otlp", "jaeger", "langfuse", "openai-agents", "text", *CHAT_FORMATS)
# Readers by format, as module:function, imported when a log of that format is read: the run
# log's own reader (events/reader.py) needs source.py only, not every other format's reader.
LINE_READERS = {
    "mas": "mas:read_mas",
    "otlp": "otlp:read_otlp",
    "openai-agents": "openai_agents:read_openai_agents",
}
DOCUMENT_READERS = {
    "otlp": "documents:read_otlp_document",
    "openai-agents": "documents:read_agents_document",
    "jaeger": "documents:read_jaeger",
    "langfuse": "langfuse:read_langfuse",
}


def _reader(target: str) -> Callable[..., Iterator[tuple[int, Record]]]:
    module, name = target.split(":")
    reader: Callable[..., Iterator[tuple[int, Record]]] = getattr(
        import_module(f"{__name__}.{module}"), name
    )
    return reader


def check_format(name: str) -> str:
    """A --log-format value, checked."""
    if name not in FORMATS:
        raise UsageError(
            f"--log-format {name!r} is not known", hint=f"use one of: {', '.join(FORMATS)}"
        )
    return name


def read_records(
    source: LineSource, fmt: str, bad: BadLines, pattern: re.Pattern[str] | None = None
) -> Iterator[tuple[int, Record]]:
    """The (line, record) pairs of one input, in the format given or sniffed from its head."""
    from mas_cli.events.formats.source import document_bytes

    chosen = "text" if pattern is not None else fmt
    if chosen == "auto":
        from mas_cli.events.formats.sniff import sniff_source

        chosen = sniff_source(source)
    if chosen in DOCUMENT_READERS and (source.document or chosen not in LINE_READERS):
        read_document = _reader(DOCUMENT_READERS[chosen])
        return read_document(document_bytes(source), _head(source), source.name, bad)
    if chosen in LINE_READERS:
        return _reader(LINE_READERS[chosen])(source, source.name, bad)
    if chosen in CHAT_FORMATS:
        return _reader("chats:read_chats")(source, bad)
    return _reader("text:read_text")(source, source.name, bad, pattern)


def _head(source: LineSource) -> bytes:
    return source.peek or b"".join(source.head)
