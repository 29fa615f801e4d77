"""Our own `events.jsonl`: each line decoded by msgspec, in C, into one flat `Line`.

A `Line` holds only the fields the triage reads, under their names in the run log; the parser
skips the rest of each line. One flat struct decodes about half again as fast as a union of
per-type structs told apart by `type` (our writer puts `type` last, so a tagged union reads each
line twice). `decode_runs` is the fast path: a whole block of lines in one call; a block that
holds a blank or bad line is cut at its long runs of blank lines (found by a regex, in C, and
stepped over: a block of a million newlines costs no Python step per line), each run of other lines
decoded in one call again, falling back to one line at a time only where it holds a bad line.
`to_record` turns a line into the normalized record the other readers produce; a line of an
event type the triage does not look at (retries, or a type newer than this version) gives None,
and is skipped, not counted as bad, so newer logs stay readable.

`Line` names the writer's fields (events/models.py) a second time, for speed; the `_RECORDS`
makers are the one place a log field becomes a record field (`trace_id` -> `trace`,
`output_digest` -> `output`, `task_started` -> `AgentStart`). tests/test_triage_schema.py
holds both to the writer's models: every field a maker reads is declared, with a type that
decodes, on the model of its event type; no check runs per line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec

from mas_cli.events.counts import Tokens
from mas_cli.events.formats.lines import blank_end
from mas_cli.events.formats.records import (
    AgentStart,
    Handoff,
    Limit,
    ModelCall,
    Record,
    StateWrite,
    TaskEnd,
    ToolCallRecord,
    TraceEnd,
    TraceStart,
)
from mas_cli.events.formats.source import BadLines


class Line(msgspec.Struct, gc=False, kw_only=True):
    """One run-log line: the fields any triaged event type carries, with the log's names.

    In the order our writer puts them, which the parser matches a little faster.
    """

    ts: str = ""
    trace_id: str = ""
    agent: str = ""
    task: str = ""
    turn: int = 0
    type: str
    crew: str = ""
    model: str = ""
    status: str = ""
    error: str = ""
    input_tokens: Tokens = 0
    output_tokens: Tokens = 0
    cost_usd: float | None = None
    output_digest: str = ""
    output_shape: str = ""
    output_varied: str = ""
    tool: str = ""
    args_digest: str = ""
    args_shape: str = ""
    args_varied: str = ""
    result_digest: str = ""
    cached: bool = False
    kind: str = ""
    message: str = ""
    from_agent: str = ""
    to_agent: str = ""
    key: str = ""
    chain: tuple[str, ...] = ()


class FullLine(Line, gc=False, kw_only=True):
    """A line read alone (the record path): with its run id too. A block of lines leaves it
    out (a tenth of the decoding time, on every line): `run_id` reads it where it is needed."""

    run_id: str = ""


class RunId(msgspec.Struct, gc=False):
    """The run id of a line."""

    run_id: str = ""


NOT_AN_EVENT = Line(type="")
"""What a bad or blank line decodes to: no type, no trace."""

BLOCK_DECODER = msgspec.json.Decoder(list[Line])
DECODER = msgspec.json.Decoder(FullLine)
BLOCK_LINE_DECODER = msgspec.json.Decoder(Line)  # a block's line read alone: as in the block
RUN_ID_DECODER = msgspec.json.Decoder(RunId)


def run_id(line: bytes) -> str:
    """The run id of one line ("" when it has none or is not JSON)."""
    try:
        return RUN_ID_DECODER.decode(line).run_id
    except (msgspec.DecodeError, RecursionError):
        return ""


_ANY = msgspec.json.Decoder()


def _model_call(x: Line) -> Record:
    return ModelCall(
        trace=x.trace_id,
        agent=x.agent,
        task=x.task,
        ts=x.ts,
        name=x.model,
        turn=x.turn,
        status=x.status or "ok",
        error=x.error,
        input_tokens=x.input_tokens,
        output_tokens=x.output_tokens,
        cost=x.cost_usd,
        output=x.output_shape or x.output_digest,
        varied=x.output_varied,
    )


def _tool_call(x: Line) -> Record:
    return ToolCallRecord(
        trace=x.trace_id,
        agent=x.agent,
        task=x.task,
        ts=x.ts,
        name=x.tool,
        turn=x.turn,
        args=x.args_shape or x.args_digest,
        varied=x.args_varied,
        output=x.result_digest,
        status=x.status or "ok",
        error=x.error,
        cached=x.cached,
    )


def _handoff(x: Line) -> Record:
    return Handoff(
        trace=x.trace_id,
        agent=x.agent,
        task=x.task,
        ts=x.ts,
        from_agent=x.from_agent,
        to_agent=x.to_agent,
    )


def _state_write(x: Line) -> Record:
    return StateWrite(trace=x.trace_id, agent=x.agent, task=x.task, ts=x.ts, key=x.key)


def _limit(x: Line) -> Record:
    return Limit(
        trace=x.trace_id,
        agent=x.agent,
        task=x.task,
        ts=x.ts,
        name=x.kind,
        message=x.message,
        chain=x.chain,
    )


def _agent_start(x: Line) -> Record:
    return AgentStart(trace=x.trace_id, agent=x.agent, task=x.task, ts=x.ts, turn=x.turn)


def _task_end(x: Line) -> Record:
    return TaskEnd(trace=x.trace_id, agent=x.agent, task=x.task, ts=x.ts, status=x.status)


def _trace_start(x: Line) -> Record:
    run = x.run_id if isinstance(x, FullLine) else ""  # a block's lines: see `run_id`
    return TraceStart(
        trace=x.trace_id, agent=x.agent, task=x.task, ts=x.ts, crew=x.crew, run=run, every_call=True
    )


def _trace_end(x: Line) -> Record:
    return TraceEnd(trace=x.trace_id, agent=x.agent, task=x.task, ts=x.ts, status=x.status)


# keywords spelled out: four times faster than building them in a dict (replays use these)
_RECORDS: dict[str, Callable[[Line], Record]] = {
    "llm_call": _model_call,
    "tool_call": _tool_call,
    "handoff": _handoff,
    "state_write": _state_write,
    "limit_hit": _limit,
    "task_started": _agent_start,
    "task_finished": _task_end,
    "run_started": _trace_start,
    "run_finished": _trace_end,
}
TRIAGED = frozenset(_RECORDS)
"""The event types that become records; every other type is skipped."""


def to_record(line: Line) -> Record | None:
    """The normalized record of a line, or None for a type the triage does not look at."""
    make = _RECORDS.get(line.type)
    return None if make is None else make(line)


def as_array(lines: bytes | bytearray | memoryview) -> bytes:
    """Whole lines as the text of one JSON array: `[` + the lines with newlines as commas + `]`.

    A blank line or a line holding two values makes the array invalid, so an array that
    decodes has exactly one entry per line (the reader builds these in place, see `scan.py`).
    """
    text = bytes(lines)
    body = text[:-1] if text.endswith(b"\n") else text
    return b"[" + body.replace(b"\n", b",") + b"]"


LONG_RUN = 64
"""Blank lines in a row worth cutting a block at; fewer (a log spaced by blank lines) are read
with the lines around them, one at a time, as a block with a bad line is."""
BLANK_LINES = re.compile(rb"(?:[ \t\r\x0b\x0c]*\n){%d}" % LONG_RUN)
"""LONG_RUN blank lines (what `bytes.isspace` calls space, then a newline)."""
BLANK_RUN = re.compile(rb"\n" + BLANK_LINES.pattern)
"""LONG_RUN blank lines after the newline that ends the line before them (searched for by
that newline: ten times faster than matching at any line start)."""

Runs = list[tuple[int, list[Line]]]
"""Runs of decoded lines: the number of each run's first line, and one entry per line."""


def decode_runs(
    array: bytes | memoryview,
    lines: bytes | memoryview,
    source: str,
    first_line: int,
    bad: BadLines,
) -> tuple[Runs, int]:
    """A block of whole lines, decoded, with how many lines it holds.

    `array` is the block as `as_array` makes it, `lines` the block itself, its first line
    `first_line`. The runs leave out the block's blank lines; a bad line is reported to `bad`
    and gives NOT_AN_EVENT.
    """
    try:
        decoded: list[Line] = BLOCK_DECODER.decode(array)
    except (msgspec.DecodeError, RecursionError):  # too deep to decode is bad too
        decoded = []
    if decoded or not lines:  # one blank line alone makes an empty array: it is read below
        return [(first_line, decoded)], len(decoded)
    text = bytes(lines)
    count = text.count(b"\n") + (not text.endswith(b"\n"))
    return list(_runs(text, source, first_line, bad)), count


def decode_block(
    array: bytes | memoryview,
    lines: bytes | memoryview,
    source: str,
    first_line: int,
    bad: BadLines,
) -> list[Line]:
    """A block of whole lines, decoded, one entry per line (entry `i` is line `first_line + i`):
    bad and blank lines give NOT_AN_EVENT."""
    runs, count = decode_runs(array, lines, source, first_line, bad)
    every: list[Line] = []
    for first, decoded in runs:
        every += [NOT_AN_EVENT] * (first - first_line - len(every))
        every += decoded
    return every + [NOT_AN_EVENT] * (count - len(every))


def _runs(text: bytes, source: str, number: int, bad: BadLines) -> Iterator[tuple[int, list[Line]]]:
    """The runs of lines between the runs of blank lines, each decoded, with its first line."""
    at = 0
    for start, end in _blank_runs(text):
        if start > at:
            yield number, _decode_run(text[at:start], source, number, bad)
            number += text.count(b"\n", at, start)
        number += text.count(b"\n", start, end)
        at = end
    if at < len(text):  # the whole text, as a block, was tried and failed: line by line
        yield number, _decode_run(text[at:], source, number, bad, whole=at == 0)


def _blank_runs(text: bytes) -> Iterator[tuple[int, int]]:
    """Where each run of LONG_RUN whole blank lines or more starts and ends, found by searches
    in C."""
    at = 0
    while (start := _run_start(text, at)) is not None:
        at = blank_end(text, start)
        yield start, at


def _run_start(text: bytes, at: int) -> int | None:
    """Where the next run of LONG_RUN blank lines or more starts, from `at` (a line's start)."""
    if at == 0 and BLANK_LINES.match(text):
        return 0
    found = BLANK_RUN.search(text, at)
    return None if found is None else found.start() + 1  # past the newline before it


def _decode_run(
    text: bytes, source: str, first_line: int, bad: BadLines, *, whole: bool = False
) -> list[Line]:
    """Whole lines with no long run of blank ones among them, in one call, or one at a time
    when one of them is bad or blank (at once when they are the `whole` block, which failed)."""
    try:
        if not whole:
            decoded: list[Line] = BLOCK_DECODER.decode(as_array(text))
            return decoded
    except (msgspec.DecodeError, RecursionError):  # too deep to decode is bad too
        pass
    pieces = text.split(b"\n")
    if not pieces[-1]:
        del pieces[-1]  # after a last newline, split gives one empty piece more
    return [
        _decode_line(line, source, first_line + i, bad, BLOCK_LINE_DECODER)
        for i, line in enumerate(pieces)
    ]


def read_mas(
    lines: Iterable[tuple[int, bytes]], source: str, bad: BadLines
) -> Iterator[tuple[int, Record]]:
    """Records from numbered `events.jsonl` lines."""
    for number, line in lines:
        record = to_record(_decode_line(line, source, number, bad))
        if record is not None:
            yield number, record


def _decode_line(
    line: bytes,
    source: str,
    number: int,
    bad: BadLines,
    decoder: msgspec.json.Decoder[Any] = DECODER,
) -> Line:
    if not line.strip():
        return NOT_AN_EVENT
    try:
        decoded: Line = decoder.decode(line)
        return decoded
    except (msgspec.DecodeError, RecursionError) as exc:  # too deep to decode is bad too
        return _unknown_type_or_bad(line, source, number, bad, str(exc))


def _unknown_type_or_bad(line: bytes, source: str, number: int, bad: BadLines, why: str) -> Line:
    try:
        value = _ANY.decode(line)
    except (msgspec.DecodeError, RecursionError):  # too deep to decode is bad too
        bad.add(source, number, f"not JSON ({why})")
        return NOT_AN_EVENT
    kind = value.get("type") if isinstance(value, dict) else None
    if isinstance(kind, str) and kind not in TRIAGED:
        return NOT_AN_EVENT  # an event the triage does not read (or a newer type): skipped
    bad.add(source, number, f"not a mas event ({why})")
    return NOT_AN_EVENT
