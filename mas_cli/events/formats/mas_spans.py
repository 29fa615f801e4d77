"""Spans `mas export` wrote, read by the triage as the run log they were made of.

Each span is turned back into its events (`exported.py`), and each event into the record the
run-log reader (`mas.py`) makes of it, so `mas triage loops` on an export finds what it finds on
the run's events.jsonl. A trace's records wait until its root span (the run, written last)
arrives, then go out in the log's order: memory holds the traces in flight.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
from pydantic import ValidationError

from mas_cli.events.formats.exported import RUN_ID, span_events
from mas_cli.events.formats.mas import DECODER, to_record
from mas_cli.events.formats.records import TraceEnd, TraceStart
from mas_cli.events.formats.spans import Located

MARK = RUN_ID
"""The attribute only spans that mas exported carry."""


class MasTraces:
    """Records of exported mas spans, released a trace at a time in the log's order."""

    def __init__(self) -> None:
        self.pending: dict[str, list[Located]] = {}

    def span(self, number: int, span: dict[str, Any]) -> Iterator[Located]:
        """Take one span; the trace's records once its root has come."""
        trace = str(span.get("traceId") or "")
        held = self.pending.setdefault(trace, [])
        try:
            found = list(span_events(span))
        except (ValidationError, ValueError, TypeError, KeyError, AttributeError):
            found = []  # not a span mas could have written: nothing to triage in it
        for event in found:
            line = DECODER.decode(event.model_dump_json(exclude_none=True))
            record = to_record(line)
            if record is not None:
                held.append((number, record))
        if not span.get("parentSpanId"):
            yield from self._release(trace)

    def finish(self) -> Iterator[Located]:
        """The input ended: release the traces whose root never came (the run did not end)."""
        for trace in list(self.pending):
            yield from self._release(trace)

    def _release(self, trace: str) -> Iterator[Located]:
        held = self.pending.pop(trace, [])
        yield from sorted(held, key=_order)


def _order(located: Located) -> tuple[int, str]:
    record = located[1]
    rank = 0 if isinstance(record, TraceStart) else 2 if isinstance(record, TraceEnd) else 1
    return rank, record.ts


def to_dict(span: msgspec.Struct) -> dict[str, Any]:
    """A decoded span as the plain dict `span_events` reads."""
    return msgspec.structs.asdict(span)
