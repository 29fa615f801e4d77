"""The run log writer: one JSON object per line, written to the OS as it is emitted.

A run killed at any point leaves every line written so far complete and readable; a full disk
leaves the log ending at its last whole line (see diskio.LineFile), and `failure` says why.
"""

from __future__ import annotations

import json
import random
import secrets
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic_core import PydanticSerializationError

from mas_cli.events.diskio import LineFile
from mas_cli.events.models import Event, RunFinished
from mas_cli.events.text import fix_text

_SECOND: list[tuple[int, str]] = [(-1, "")]
"""The last second stamped, and its text up to the seconds: a run stamps dozens of events in
one second, and formatting a datetime each time was 2 % of a batch's CPU."""


def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds and a Z (2026-11-21T11:46:11.123456Z)."""
    second, micro = divmod(time.time_ns() // 1000, 1_000_000)
    cached, prefix = _SECOND[0]
    if cached != second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _SECOND[0] = (second, prefix)
    return f"{prefix}.{micro:06d}Z"


def new_run_id() -> str:
    """A run id that sorts by start time: 20261121T114611123-3fa2c1."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")[:-3]
    return f"{stamp}-{secrets.token_hex(3)}"


def new_trace_id() -> str:
    """A 128-bit trace id in hex, as OpenTelemetry has it."""
    return secrets.token_hex(16)


def new_span_id() -> str:
    """A 64-bit span id in hex, as OpenTelemetry has it (random, never all zeros). An id needs
    to be unique, not secret: `random` makes one without a system call (a run makes dozens)."""
    return f"{random.getrandbits(64) or 1:016x}"


def event_line(event: Event) -> str:
    """The event as JSON; a lone surrogate in a field becomes U+FFFD instead of failing."""
    try:
        return event.model_dump_json(exclude_none=True)
    except PydanticSerializationError:
        doc = event.model_dump(mode="json", exclude_none=True)
        return fix_text(json.dumps(doc, ensure_ascii=False, default=str))


class EventWriter:
    """Appends events to a JSONL file; counts what it wrote, by type."""

    def __init__(self, path: Path) -> None:
        """Open (create) the log.

        Raises:
            OSError: its folder or the file cannot be made.
        """
        if not path.parent.is_dir():  # a stat: cheaper than a mkdir that finds it
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = LineFile(path)
        self.counts: Counter[str] = Counter()

    @property
    def file(self) -> LineFile:
        """The log file: its `failure`, and whom to tell (`on_failure`)."""
        return self._file

    def emit(self, event: Event, line: str | None = None) -> None:
        """Write one event as one line (`line`: its `event_line`, when the caller made it).
        Never raises for the disk's sake: after a failed write only run_finished is tried, so
        the log is a clean prefix of the run (and its end).

        Raises:
            ValueError: the event has no envelope (it did not come through the run's sink).
        """
        if not (event.ts and event.run_id and event.trace_id and event.span_id):
            raise ValueError(f"a {type(event).__name__} without its envelope: emit it via Sink")
        text = (event_line(event) if line is None else line) + "\n"
        if self._file.append(text, force=isinstance(event, RunFinished)):
            self.counts[str(getattr(event, "type", "event"))] += 1

    def close(self) -> None:
        """Close the file; later emits fail."""
        self._file.close()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
