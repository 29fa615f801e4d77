"""Where log lines come from: files (gzipped or not), several of them, or `-` for stdin.

Lines are read as bytes and numbered from 1; nothing is decoded here. A line that a reader
cannot use is reported to `BadLines`, which counts every one and keeps the first few.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from mas_cli.errors import LogFormatError

GZIP_MAGIC = b"\x1f\x8b"
KEPT_BAD_LINES = 5
STDIN = "-"


@dataclass(frozen=True)
class BadLine:
    """One line that could not be read: where, and why."""

    source: str
    line: int
    reason: str


SHAPE_ERRORS = (TypeError, ValueError, AttributeError, LookupError, ArithmeticError, RecursionError)
"""What walking a parsed line of a foreign format can raise when a field has the wrong type:
the line is then bad (counted), never a crash."""


def int64(value: int, name: str) -> int:
    """A count as our own log holds it (a signed 64-bit integer).

    Raises:
        ValueError: a larger number (a 31-digit "token count"), so the line is a bad line.
    """
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"{name} {str(value)[:20]}... is out of range")
    return value


@dataclass
class BadLines:
    """Every unreadable line counted, the first few kept for the report."""

    count: int = 0
    first: list[BadLine] = field(default_factory=list)

    def add(self, source: str, line: int, reason: str) -> None:
        """Count one bad line; keep it if it is among the first few."""
        self.count += 1
        if len(self.first) < KEPT_BAD_LINES:
            self.first.append(BadLine(source, line, reason[:200]))

    def misshapen(self, source: str, line: int, exc: Exception) -> None:
        """Count a line whose JSON parsed but whose shape the reader cannot use."""
        self.add(source, line, f"an unexpected shape ({type(exc).__name__}: {exc})")

    def merge(self, other: BadLines) -> None:
        """Add another tally's lines after this one's."""
        for bad in other.first:
            if len(self.first) < KEPT_BAD_LINES:
                self.first.append(bad)
        self.count += other.count


def open_binary(name: str) -> tuple[BinaryIO, BinaryIO]:
    """The named file (or stdin for `-`), transparently gunzipped, and the raw file under it.

    Raises:
        LogFormatError: the file cannot be opened.
    """
    if name == STDIN:
        raw: BinaryIO = sys.stdin.buffer
    else:
        try:
            raw = Path(name).open("rb")  # noqa: SIM115 - the caller closes it
        except OSError as exc:
            raise LogFormatError(
                f"{name}: cannot be read ({exc.strerror})", hint="check the path and permissions"
            ) from None
    return _maybe_gunzip(raw), raw


def _maybe_gunzip(raw: BinaryIO) -> BinaryIO:
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def is_gzip(path: Path) -> bool:
    """Whether a file starts with the gzip magic bytes."""
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


@dataclass
class LineSource:
    """The numbered lines of one input, with its first lines read ahead for sniffing."""

    name: str
    handle: BinaryIO
    head: list[bytes] = field(default_factory=list)
    raw: BinaryIO | None = None

    def close(self) -> None:
        """Close the input (stdin stays open)."""
        if self.name != STDIN:
            self.handle.close()
            if self.raw is not None:
                self.raw.close()

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        yield from enumerate(self._all(), start=1)

    def _all(self) -> Iterator[bytes]:
        yield from self.head
        try:
            yield from self.handle
        except (OSError, EOFError) as exc:  # a truncated gzip stream ends the input, not the run
            raise TruncatedInput(f"{self.name}: {exc}") from None


class TruncatedInput(Exception):
    """A compressed input ended early; the lines before the cut were read."""


def line_source(name: str, head_lines: int = 20) -> LineSource:
    """Open an input and read its first lines ahead, for the format sniffer."""
    handle, raw = open_binary(name)
    head: list[bytes] = []
    try:
        for line in handle:
            head.append(line)
            if len(head) >= head_lines:
                break
    except (OSError, EOFError):
        pass
    return LineSource(name, handle, head, raw)
