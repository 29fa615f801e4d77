"""Our own `events.jsonl`, decoded straight into records by msgspec, in C.

Only the fields the triage needs are decoded; the rest of each line is skipped by the parser.
Event types that carry nothing for the triage (state writes, retries, ...) decode into
`Skipped`; a type this version does not know is skipped too, not counted as bad, so newer logs
stay readable. `decode_block` is the fast path: a whole block of lines in one call, falling
back to one line at a time only when the block holds a bad or blank line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeAlias

import msgspec

from mas_cli.events.formats.records import (
    AgentStart,
    Handoff,
    Limit,
    ModelCall,
    Record,
    TaskEnd,
    ToolCall,
    TraceEnd,
    TraceStart,
)
from mas_cli.events.formats.source import BadLines


class Skipped(msgspec.Struct, tag_field="type", gc=False):
    """An event the triage does not look at (or a line that was not an event)."""

    trace: str = msgspec.field(default="", name="trace_id")


NOT_AN_EVENT = Skipped()


class _StateWrite(Skipped, tag="state_write"):
    pass


class _Retry(Skipped, tag="retry"):
    pass


class _HistoryTrimmed(Skipped, tag="history_trimmed"):
    pass


class _Warning(Skipped, tag="warning"):
    pass


class _RateLimited(Skipped, tag="rate_limited"):
    pass


Decoded: TypeAlias = (
    ModelCall
    | ToolCall
    | Handoff
    | Limit
    | AgentStart
    | TaskEnd
    | TraceStart
    | TraceEnd
    | _StateWrite
    | _Retry
    | _HistoryTrimmed
    | _Warning
    | _RateLimited
)
DECODER = msgspec.json.Decoder(Decoded)
_ANY = msgspec.json.Decoder()


def decode_block(block: bytes, source: str, first_line: int, bad: BadLines) -> list[Any]:
    """The records of a block of whole lines, one entry per line.

    Entry `i` is line `first_line + i`. A bad line is reported to `bad`; bad and blank lines
    give NOT_AN_EVENT, so that every entry has a `trace`.
    """
    try:
        decoded: list[Any] = DECODER.decode_lines(block)
    except msgspec.DecodeError:
        decoded = []
    if len(decoded) == block.count(b"\n") + (not block.endswith(b"\n")):
        return decoded
    lines = block.split(b"\n")
    if block.endswith(b"\n"):
        lines.pop()
    decoded = [_decode_line(line, source, first_line + i, bad) for i, line in enumerate(lines)]
    return [NOT_AN_EVENT if record is None else record for record in decoded]


def read_mas(
    lines: Iterable[tuple[int, bytes]], source: str, bad: BadLines
) -> Iterator[tuple[int, Record]]:
    """Records from numbered `events.jsonl` lines."""
    for number, line in lines:
        record = _decode_line(line, source, number, bad)
        if record is not None and not isinstance(record, Skipped):
            yield number, record


def _decode_line(line: bytes, source: str, number: int, bad: BadLines) -> Any:
    if not line.strip():
        return None
    try:
        return DECODER.decode(line)
    except msgspec.DecodeError as exc:
        return _unknown_type_or_bad(line, source, number, bad, str(exc))


def _unknown_type_or_bad(line: bytes, source: str, number: int, bad: BadLines, why: str) -> None:
    try:
        value = _ANY.decode(line)
    except msgspec.DecodeError:
        bad.add(source, number, f"not JSON ({why})")
        return
    if (
        isinstance(value, dict)
        and isinstance(value.get("type"), str)
        and "Invalid value" in why
        and "$.type" in why
    ):
        return  # an event type this version does not know: skipped, not bad
    bad.add(source, number, f"not a mas event ({why})")
    return
