"""Where log lines come from: files (gzipped or not), several of them, or `-` for stdin.

Lines are read as bytes and numbered from 1; nothing is decoded here. A line that a reader
cannot use is reported to `BadLines`, which counts every one and keeps the first few.

No line is ever held whole past MAX_LINE_BYTES: a longer one (a one-line 500 MB log, a gzip
bomb, /dev/zero) is read past in READ_BYTES pieces, counted as bad, and given to the readers
as a blank line, so memory stays constant and the lines after it keep their numbers.

A run of blank lines is read past a buffer at a time (lines.py), in C: they are counted in
the numbers of the lines after them and never given to a reader one by one.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
from msgspec import Struct

from mas_cli.errors import LogFormatError
from mas_cli.events.formats.lines import MAX_LINE_BYTES, READ_BYTES, blank_run, bounded_lines

GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"
"""The byte order mark Windows tools (PowerShell, Notepad) start a UTF-8 file with."""
KEPT_BAD_LINES = 5
PEEK_BYTES = 64 << 10
STDIN = "-"
MARK = b'{"resourceSpans"'
"""How a file `mas export` wrote (OTLP JSON lines) begins."""


class BadLine(Struct, frozen=True):
    """One line that could not be read: where, and why."""

    source: str
    line: int
    reason: str


SHAPE_ERRORS = (TypeError, ValueError, AttributeError, LookupError, ArithmeticError, RecursionError)
"""What walking a parsed line of a foreign format can raise when a field has the wrong type:
the line is then bad (counted), never a crash."""


class BadLines(Struct):
    """Every unreadable line counted, the first few kept for the report."""

    count: int = 0
    first: list[BadLine] = msgspec.field(default_factory=list)
    cut_short: int = 0
    """JSON documents whose reading stopped (malformed, too deep) with more of them unread than
    read: such an input is unreadable, whatever was found in the part before the stop."""
    ended_early: int = 0
    """Inputs whose compressed stream ended before its end (a gzip file cut short)."""

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
        self.cut_short += other.cut_short
        self.ended_early += other.ended_early


def mostly_left(done: int, left: int, read: Callable[[int], bytes]) -> bool:
    """Whether more of a stopped document is left than the `done` bytes read before the stop:
    `left` bytes are known to remain, and `read` gives the rest. It is read (never held) only
    as far as telling needs, so a gzip bomb after the stop costs no more than what came before.
    """
    try:
        while left <= done and (piece := read(min(READ_BYTES, done + 1 - left))):
            left += len(piece)
    except (OSError, EOFError):  # a truncated gzip stream: what is left ends there
        pass
    return left > done


def open_binary(name: str) -> tuple[BinaryIO, BinaryIO]:
    """The named file (or stdin for `-`), transparently gunzipped, and the raw file under it.

    Raises:
        LogFormatError: the file cannot be opened.
    """
    if name == STDIN:  # buffered again, so that its first bytes can be peeked at for sniffing
        raw: BinaryIO = io.BufferedReader(_Prefetched(sys.stdin.buffer), PEEK_BYTES)
    else:
        try:
            raw = Path(name).open("rb", buffering=PEEK_BYTES)  # noqa: SIM115 - the caller closes it
        except OSError as exc:
            raise LogFormatError(
                f"{name}: cannot be read ({exc.strerror})", hint="check the path and permissions"
            ) from None
    try:
        return skip_bom(_maybe_gunzip(raw)), raw
    except BaseException:  # nobody else holds it to close it
        raw.close()
        raise


def skip_bom(handle: BinaryIO) -> BinaryIO:
    """The handle past a leading byte order mark, so the first line reads as any other."""
    peek = getattr(handle, "peek", None)
    try:
        if peek is not None and bytes(peek(len(BOM))[: len(BOM)]) == BOM:
            handle.read(len(BOM))
    except (OSError, EOFError):  # a truncated gzip stream: the reader says so when it reads
        pass
    return handle


def bom_size(path: Path) -> int:
    """The length of the byte order mark the file starts with (0 without one)."""
    with path.open("rb") as handle:
        return len(BOM) if handle.read(len(BOM)) == BOM else 0


class _Prefetched(io.RawIOBase):
    """A stream whose first read waits for PEEK_BYTES (or the end): a pipe hands over what its
    writer has written so far, which may be one blank line, and the sniffer must see more
    than that to tell a one-line document from a line-per-record log."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream, self.first = stream, True

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        read = _read1(self.stream, view)
        while self.first and 0 < read < min(len(view), PEEK_BYTES):
            more = _read1(self.stream, view[read:])
            if not more:
                break
            read += more
        self.first = False
        return read


def _read1(stream: BinaryIO, view: memoryview) -> int:
    """One read of what the stream has (at least a byte, or none at its end)."""
    read1 = getattr(stream, "read1", stream.read)
    data = read1(len(view))
    view[: len(data)] = data
    return len(data)


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
    bad: BadLines = field(default_factory=BadLines)
    """Where lines past MAX_LINE_BYTES are counted."""
    read: int = 0
    """Lines read so far."""
    blank: int = 0
    """Blank lines among them."""
    peek: bytes = b""
    """The input's first bytes, seen before any line is read (empty where it cannot be peeked)."""
    document: bool = False
    """A JSON document whose first line is not whole in `peek`: no lines were read ahead, so a
    document reader gets every byte (a one-line 100 MB export is not read past as too long)."""
    ended: str | None = None
    """Why the input ended before its end, once a read found it (`the gzip stream ends
    early`): later reads of a gzip stream cut short may find nothing and say nothing."""
    _lines: Iterator[bytes | None] = field(init=False, repr=False)
    _skipped: list[tuple[int, bool]] = field(init=False, repr=False, default_factory=list)

    def __post_init__(self) -> None:
        self._lines = bounded_lines(self.handle, self._skipped)

    def close(self) -> None:
        """Close the input (stdin stays open)."""
        if self.name != STDIN:
            self.handle.close()
            if self.raw is not None:
                self.raw.close()

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        """The numbered lines: those read ahead, then the rest without the blank lines (each
        run of them read past at once, and counted in `read`, `blank` and the numbers)."""
        yield from enumerate(self.head, start=1)
        try:
            while not self.ended and (line := self.next_line()):
                if line.isspace():
                    self._past_blank()
                else:
                    yield self.read, line
        except (OSError, EOFError) as exc:  # a truncated gzip stream ends the input, not the run
            self.ended = ended_by(exc)
        if self.ended:
            raise TruncatedInput(self.ended)

    def _past_blank(self) -> None:
        for count in blank_run(self.handle):
            self.read += count
            self.blank += count

    def next_line(self) -> bytes:
        """The next line (b"" at the end), or a blank one for a line past MAX_LINE_BYTES."""
        line = next(self._lines, b"")
        if line is None or line:
            self.read += 1
        if line is not None:
            self.blank += line.isspace()
            return line
        size, document = self._skipped.pop()
        self.bad.add(self.name, self.read, too_long(self.name, size, document=document))
        return b"\n"


TOO_LONG = f"longer than {MAX_LINE_BYTES:,} bytes: skipped"


def too_long(name: str, size: int, *, document: bool) -> str:
    """Why a line past MAX_LINE_BYTES was skipped. A file's is TOO_LONG (a document reader may
    read it again from the start, see `chats.py`); stdin cannot be read again, so a one-line JSON
    document there whose format its first bytes did not tell is named, with its size and fix."""
    if name != STDIN or not document:
        return TOO_LONG
    return (
        f"a one-line JSON document of {size:,} bytes, past the line bound, its format not told "
        f"by its first {PEEK_BYTES >> 10} KiB: skipped; name it with --log-format (e.g. chat) "
        "to stream it"
    )


def _peek(handle: BinaryIO) -> bytes:
    """Up to PEEK_BYTES of what `handle` will read next, without reading it.

    Raises:
        OSError, EOFError: a gzip stream that ends early or is damaged.
    """
    peek = getattr(handle, "peek", None)
    return b"" if peek is None else bytes(peek(PEEK_BYTES)[:PEEK_BYTES])


def ended_by(exc: OSError | EOFError) -> str:
    """What a read that failed says of its input: `the gzip stream ends early` (cut short)."""
    if isinstance(exc, EOFError):
        return "the gzip stream ends early"
    if isinstance(exc, gzip.BadGzipFile):
        return f"the gzip stream is damaged ({exc})"
    return f"the input could not be read to its end ({exc.strerror or exc})"


def document_bytes(source: LineSource) -> Iterator[bytes]:
    """Every byte of the input for a document reader: the lines read ahead, then the rest."""
    from mas_cli.events.formats.jsondoc import READ_BYTES

    yield from source.head  # a truncated gzip stream raises OSError or EOFError: the reader
    if source.ended:  # counts it and keeps what came before
        raise EOFError(source.ended)
    while piece := source.handle.read(READ_BYTES):
        yield piece


class TruncatedInput(Exception):
    """A compressed input ended early (its message says how); the lines before the cut were
    read."""


def line_source(name: str, bad: BadLines | None = None, head_lines: int = 20) -> LineSource:
    """Open an input and read its first lines ahead, for the format sniffer; lines past
    MAX_LINE_BYTES are counted in `bad`."""
    from mas_cli.events.formats.jsondoc import looks_like_document

    handle, raw = open_binary(name)
    source = LineSource(name, handle, raw=raw, bad=BadLines() if bad is None else bad)
    try:
        source.peek = _peek(handle)
        if looks_like_document(source.peek) and not _line_per_record(source):
            source.document = True
            return source
        while len(source.head) < head_lines and (line := source.next_line()):
            source.head.append(line)
    except (OSError, EOFError) as exc:  # a reader meets it after the lines read ahead
        source.ended = ended_by(exc)
    return source


def _line_per_record(source: LineSource) -> bool:
    """Whether an input whose first line is longer than the peek is a line-per-record log, not
    a document: its first line is one whole JSON value (a run_started, a chat with a long
    prompt), or a damaged one (cut, nested too deep) followed by a line that is a whole object.
    The lines are read ahead (each at most MAX_LINE_BYTES, so a one-line document past the
    bound is never held whole) and given back: a file is sought back to them; on a pipe,
    records become the first lines read ahead, and anything else is put back before the rest."""
    handle = source.handle
    start = handle.tell() if handle.seekable() else None
    lines = [handle.readline(MAX_LINE_BYTES + 1)]
    if not _is_record(lines[0]) and len(lines[0]) <= MAX_LINE_BYTES and lines[0].endswith(b"\n"):
        lines.append(handle.readline(MAX_LINE_BYTES + 1))
    records = _is_record(lines[-1]) and (len(lines) == 1 or lines[-1].lstrip()[:1] == b"{")
    if start is not None:
        handle.seek(start)
    elif records:
        source.head.extend(lines)
        source.read += len(lines)
    else:
        source.handle = io.BufferedReader(_GivenBack(b"".join(lines), handle), PEEK_BYTES)
        source.__post_init__()  # its lines now come from the handle with the lines given back
    return records


def _is_record(line: bytes) -> bool:
    from mas_cli.events.formats.jsondoc import is_whole_json

    return len(line) <= MAX_LINE_BYTES and is_whole_json(line)


class _GivenBack(io.RawIOBase):
    """Bytes read ahead from a stream that cannot seek, then the rest of the stream."""

    def __init__(self, ahead: bytes, stream: BinaryIO) -> None:
        self.ahead, self.stream = memoryview(ahead), stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not self.ahead:
            return _read1(self.stream, view)
        size = min(len(view), len(self.ahead))
        view[:size], self.ahead = self.ahead[:size], self.ahead[size:]
        return size


def is_exported(path: Path) -> bool:
    """Whether the file is OTLP JSON lines (what `mas export` writes), by its first bytes."""
    try:
        with path.open("rb") as handle:
            return handle.read(len(MARK) + 64).lstrip().startswith(MARK)
    except OSError:
        return False
