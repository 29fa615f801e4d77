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
from collections.abc import Iterator

from mas_cli.errors import UsageError
from mas_cli.events.formats.chats import read_chats
from mas_cli.events.formats.documents import (
    read_agents_document,
    read_jaeger,
    read_otlp_document,
)
from mas_cli.events.formats.langfuse import read_langfuse
from mas_cli.events.formats.mas import read_mas
from mas_cli.events.formats.openai_agents import read_openai_agents
from mas_cli.events.formats.otlp import read_otlp
from mas_cli.events.formats.records import Record
from mas_cli.events.formats.sniff import sniff_source
from mas_cli.events.formats.source import BadLines, LineSource, document_bytes
from mas_cli.events.formats.text import read_text

CHAT_FORMATS = ("chat", "swe-agent", "openhands")
FORMATS = ("auto", "mas", "otlp", "jaeger", "langfuse", "openai-agents", "text", *CHAT_FORMATS)
LINE_READERS = {"mas": read_mas, "otlp": read_otlp, "openai-agents": read_openai_agents}
DOCUMENT_READERS = {
    "otlp": read_otlp_document,
    "openai-agents": read_agents_document,
    "jaeger": read_jaeger,
    "langfuse": read_langfuse,
}


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
    chosen = "text" if pattern is not None else fmt
    if chosen == "auto":
        chosen = sniff_source(source)
    if chosen in DOCUMENT_READERS and (source.document or chosen not in LINE_READERS):
        return DOCUMENT_READERS[chosen](document_bytes(source), _head(source), source.name, bad)
    if chosen in LINE_READERS:
        return LINE_READERS[chosen](source, source.name, bad)
    if chosen in CHAT_FORMATS:
        return read_chats(source, bad)
    return read_text(source, source.name, bad, pattern)


def _head(source: LineSource) -> bytes:
    return source.peek or b"".join(source.head)
