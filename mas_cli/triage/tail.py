"""The lines of a growing log, as they are written: a file followed, or stdin until it closes.

A file is read from its start and then polled. A partial last line is held until its newline.
A file replaced under its name (a new inode: rotation) is read to its end, then the new one is
read from its start; a file that shrank (truncated in place) is read again from its start. Each
of those starts a new generation, and lines are numbered on across them; `loc` turns such a
number into a loc whose unit is the generation and whose line is the line in that file.
Whenever no line is ready, `on_idle` is called before waiting: the caller's moment to judge
what it has read.
"""

from __future__ import annotations

import bisect
import io
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mas_cli.errors import LogFormatError, UsageError
from mas_cli.events.formats.lines import MAX_LINE_BYTES, SPACE, blank_end
from mas_cli.events.formats.records import make_loc
from mas_cli.events.formats.source import BOM, GZIP_MAGIC, STDIN, LineSource

CHUNK = 1 << 16
Numbered = tuple[int, bytes]


@dataclass
class Tail:
    """Follows one input; `lines()` yields its numbered lines and never ends for a file."""

    name: str
    poll_s: float = 0.1
    on_idle: Callable[[], None] = lambda: None
    on_too_long: Callable[[int], None] = lambda _line: None
    on_generation: Callable[[int, str], None] = lambda _unit, _label: None
    """Called when a rotation or a truncation starts a new unit of locs, with its label."""
    rotations: int = 0
    truncations: int = 0
    starts: list[int] = field(default_factory=lambda: [1])
    labels: list[str] = field(default_factory=list)
    _number: int = 0
    _held: bytearray = field(default_factory=bytearray)
    _skipping: bool = False

    def __post_init__(self) -> None:
        self.labels.append(self.name)

    @property
    def read(self) -> int:
        """Lines read so far, across generations."""
        return self._number

    def loc(self, line: int) -> int:
        """The loc of a stream line number: its generation's unit, and its line in that file."""
        at = max(0, bisect.bisect_right(self.starts, line) - 1)
        return make_loc(at, line - self.starts[at] + 1)

    def lines(self) -> Iterator[Numbered]:
        """Every complete line, numbered across generations; for a file, forever."""
        if self.name == STDIN:
            yield from self._stdin()
        else:
            yield from self._file(Path(self.name))

    def _feed(self, data: bytes) -> Iterator[Numbered]:
        """Complete lines out of `data` and what was held; a partial line is kept."""
        self._held += data
        start = 0
        while (end := self._held.find(b"\n", start)) >= 0:
            if self._held[start] in SPACE and not self._skipping:  # perhaps blank lines: at once
                past = blank_end(self._held, start)
                self._number += self._held.count(b"\n", start, past)  # counted, not handed over
                if past > start:
                    start = past
                    continue
            line, start = bytes(self._held[start : end + 1]), end + 1
            yield from self._line(line)
        del self._held[:start]
        if len(self._held) > MAX_LINE_BYTES:  # never held whole: read past to its newline
            self._held.clear()
            if not self._skipping:
                self._skipping = True
                self._number += 1
                self.on_too_long(self._number)

    def _line(self, line: bytes) -> Iterator[Numbered]:
        if self._skipping:  # the end of a line past the bound
            self._skipping = False
            return
        self._number += 1
        if self._number == self.starts[-1] and line.startswith(BOM):  # a file's first line
            line = line[len(BOM) :]
        yield self._number, line

    def _rest(self) -> Iterator[Numbered]:
        """A generation ended: the partial line it held is a line (it will not grow)."""
        if self._held and not self._skipping:
            yield from self._line(bytes(self._held) + b"\n")
        self._held.clear()
        self._skipping = False

    def _generation(self, why: str) -> None:
        self.starts.append(self._number + 1)
        self.labels.append(f"{self.name} ({why})")
        self.on_generation(len(self.labels) - 1, self.labels[-1])

    def _stdin(self) -> Iterator[Numbered]:
        chunks: queue.Queue[bytes] = queue.Queue(maxsize=64)
        threading.Thread(target=_pump, args=(chunks,), daemon=True).start()
        while True:
            try:
                chunk = chunks.get(timeout=self.poll_s)
            except queue.Empty:
                self.on_idle()
                continue
            if not chunk:  # the writer closed the pipe: the input ended
                yield from self._rest()
                return
            yield from self._feed(chunk)

    def _file(self, path: Path) -> Iterator[Numbered]:
        fd = _open(path)
        try:
            while True:
                data = os.read(fd, CHUNK)
                if data:
                    yield from self._feed(data)
                    continue
                self.on_idle()
                new = yield from self._check(path, fd)
                if new != fd:
                    os.close(fd)
                    fd = new
                time.sleep(self.poll_s)
        finally:
            os.close(fd)

    def _check(self, path: Path, fd: int) -> Generator[Numbered, None, int]:
        """The fd to read on: the same, rewound when the file shrank, or the file now at path."""
        mine = os.fstat(fd)
        try:
            now = path.stat()
        except OSError:  # moved away and not yet created again: keep reading the old one
            return fd
        if (now.st_ino, now.st_dev) != (mine.st_ino, mine.st_dev):
            while data := os.read(fd, CHUNK):  # what was written before the move
                yield from self._feed(data)
            yield from self._rest()
            self.rotations += 1
            self._generation(f"rotated #{self.rotations}")
            return _open(path)
        if mine.st_size < os.lseek(fd, 0, os.SEEK_CUR):
            self._held.clear()  # what was held was cut off with the rest
            self.truncations += 1
            self._generation(f"truncated #{self.truncations}")
            os.lseek(fd, 0, os.SEEK_SET)
        return fd


def _pump(chunks: queue.Queue[bytes]) -> None:
    """Stdin's bytes as they come, then b"" at its end (a thread: a read blocks)."""
    read = _stdin_reader()
    try:
        while chunk := read(CHUNK):
            chunks.put(chunk)
    except (OSError, ValueError):
        pass
    chunks.put(b"")


def _stdin_reader() -> Callable[[int], bytes]:
    """Reads of stdin's file descriptor: a thread blocked in the buffered reader would hold its
    lock, and the interpreter aborts at exit (Ctrl-C) waiting for it. A stdin with no
    descriptor (a test's) is read through its buffer."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        stream = sys.stdin.buffer
        return stream.read1 if hasattr(stream, "read1") else stream.read
    return lambda size: os.read(fd, size)


def _open(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise LogFormatError(
            f"{path}: cannot be read ({exc.strerror})", hint="check the path and permissions"
        ) from None
    if os.pread(fd, 2, 0) == GZIP_MAGIC:
        os.close(fd)
        raise UsageError(
            f"{path} is gzipped: a compressed file cannot be followed as it grows",
            hint="follow the plain log, or read the .gz whole without --follow",
        )
    return fd


class FollowedSource(LineSource):
    """A `LineSource` whose lines come from a `Tail`, for the format readers."""

    def __init__(self, name: str, head: list[bytes], lines: Iterable[Numbered]) -> None:
        super().__init__(name, io.BytesIO(), head=head)
        self._followed = lines

    def __iter__(self) -> Iterator[Numbered]:
        yield from self._followed

    def close(self) -> None:
        """Nothing to close: the tail owns its input."""
