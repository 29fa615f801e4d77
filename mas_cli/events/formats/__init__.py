"""Readers for every log format `mas triage` understands, into one normalized record stream.

records.py        the record types (model call, tool call, message, handoff, limit, ...)
source.py         files, gzip, stdin; numbered lines; the bad-line tally
sniff.py          which format a log is, from its first lines
mas.py            our events.jsonl (one flat msgspec struct a line, a block at a time)
otlp.py           OTLP JSON from the OpenTelemetry collector's file exporter
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
from mas_cli.events.formats.mas import read_mas
from mas_cli.events.formats.openai_agents import read_openai_agents
from mas_cli.events.formats.otlp import read_otlp
from mas_cli.events.formats.records import Record
from mas_cli.events.formats.sniff import sniff
from mas_cli.events.formats.source import BadLines, LineSource
from mas_cli.events.formats.text import read_text

CHAT_FORMATS = ("chat", "swe-agent", "openhands")
FORMATS = ("auto", "mas", "otlp", "openai-agents", "text", *CHAT_FORMATS)


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
        chosen = sniff(source.head)
    if chosen == "mas":
        return read_mas(source, source.name, bad)
    if chosen == "otlp":
        return read_otlp(source, source.name, bad)
    if chosen == "openai-agents":
        return read_openai_agents(source, source.name, bad)
    if chosen in CHAT_FORMATS:
        return read_chats(source, bad)
    return read_text(source, source.name, bad, pattern)
