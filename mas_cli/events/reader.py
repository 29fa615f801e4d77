"""Read a run log back: a generator of events that counts bad lines and skips them.

`LogReader` yields the writer's pydantic models (events/models.py), for the engine, export and
batch, which hold or rebuild them; `StructReader` yields their msgspec twins (events/logged.py)
for the read-only reports, without loading pydantic. Both skip and count the same lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Generic, TypeVar

from mas_cli.errors import LogFormatError
from mas_cli.events.formats.lines import NumberedLines
from mas_cli.events.formats.source import (
    GZIP_MAGIC,
    STDIN,
    TOO_LONG,
    open_binary,
)

if TYPE_CHECKING:
    from mas_cli.events import logged, models

MAX_KEPT_BAD_LINES = 5
CUT = "the gzip stream ends early here: the log is read up to this line"
E = TypeVar("E")


def check_read(path: Path, events: int, skipped: int, bad_lines: list[tuple[int, str]]) -> None:
    """For a command that reads one log a user named, once it is read.

    Raises:
        LogFormatError: the log had lines and not one of them was an event (garbage, another
            tool's log, a file whose every line is damaged): a report of it would show an
            empty run and exit 0.
    """
    if events or not skipped:
        return
    line, why = bad_lines[0]
    lines = "its only line is not" if skipped == 1 else f"not one of its {skipped:,} lines is"
    raise LogFormatError(
        f"{path}:{line}: {why}; {lines} a mas event",
        hint="name a run's events.jsonl (mas runs lists them); "
        "for another tool's log: mas triage loops FILE",
    )


def first_bad(path: Path, bad_lines: list[tuple[int, str]]) -> str:
    """The first of the lines skipped, as `path:line: why` ("" when none was)."""
    if not bad_lines:
        return ""
    line, why = bad_lines[0]
    return f"{path}:{line}: {why}"


@dataclass
class _Lines(Generic[E]):
    """The events of one `events.jsonl`; `skipped` counts lines that were not events."""

    path: Path
    skipped: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    events: int = 0

    def check_read(self) -> None:
        """For a command that reads one log a user named, once it is read (see `check_read`)."""
        check_read(self.path, self.events, self.skipped, self.bad_lines)

    @property
    def first_bad(self) -> str:
        """The first line skipped, as `path:line: why` ("" when none was)."""
        return first_bad(self.path, self.bad_lines)

    def __iter__(self) -> Iterator[E]:
        handle, raw = self._open()
        lines = NumberedLines(handle)  # blank lines are counted, not given
        with raw, handle:
            try:
                for number, line in lines:
                    if line is None:
                        self._skip(number, TOO_LONG)
                        continue
                    event = self._decode(line)
                    if isinstance(event, str):
                        self._skip(number, event)
                    else:
                        self.events += 1
                        yield event
            except (OSError, EOFError):  # a gzipped log cut short, or damaged: it ends there
                self._skip(lines.number + 1, CUT)

    def _open(self) -> tuple[BinaryIO, BinaryIO]:
        """The log, gunzipped when it is gzipped (`events.jsonl.gz`, an archived run); a plain
        one with no more buffer than it had."""
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise LogFormatError(f"{self.path}: cannot be read ({exc.strerror})") from None
        if str(self.path) == STDIN or handle.peek(2)[:2] != GZIP_MAGIC:  # `-`: a file so named
            return handle, handle
        handle.close()
        return open_binary(str(self.path))

    def _decode(self, line: bytes) -> E | str:
        """The event of a line, or why it is not one."""
        raise NotImplementedError

    def _skip(self, number: int, why: str) -> None:
        self.skipped += 1
        if len(self.bad_lines) < MAX_KEPT_BAD_LINES:
            self.bad_lines.append((number, why))


class LogReader(_Lines["models.AnyEvent"]):
    """Events as the writer's pydantic models."""

    def _decode(self, line: bytes) -> models.AnyEvent | str:
        from pydantic import ValidationError

        from mas_cli.events.models import read_event, why_not

        try:
            return read_event(line)
        except ValidationError as exc:
            return why_not(exc)


class StructReader(_Lines["logged.AnyEvent"]):
    """Events as msgspec Structs (events/logged.py): the same events, read without pydantic."""

    def _decode(self, line: bytes) -> logged.AnyEvent | str:
        from mas_cli.events.logged import NotAnEvent, read_line

        try:
            return read_line(line)
        except NotAnEvent as exc:
            return str(exc)
