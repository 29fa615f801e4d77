"""Read a run log back: a generator of typed events that counts bad lines and skips them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from mas_cli.errors import LogFormatError
from mas_cli.events.formats.source import TOO_LONG, bounded_lines
from mas_cli.events.models import AnyEvent, read_event

MAX_KEPT_BAD_LINES = 5


@dataclass
class LogReader:
    """The events of one `events.jsonl`; `skipped` counts lines that were not events."""

    path: Path
    skipped: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)

    def __iter__(self) -> Iterator[AnyEvent]:
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise LogFormatError(f"{self.path}: cannot be read ({exc.strerror})") from None
        with handle:
            for number, line in enumerate(bounded_lines(handle), start=1):
                event = self._skip(number, TOO_LONG) if line is None else self._parse(number, line)
                if event is not None:
                    yield event

    def _parse(self, number: int, line: bytes) -> AnyEvent | None:
        if not line.strip():
            return None
        try:
            return read_event(line)
        except ValidationError as exc:
            return self._skip(number, exc.errors()[0]["msg"])

    def _skip(self, number: int, why: str) -> AnyEvent | None:
        self.skipped += 1
        if len(self.bad_lines) < MAX_KEPT_BAD_LINES:
            self.bad_lines.append((number, why))
        return None
