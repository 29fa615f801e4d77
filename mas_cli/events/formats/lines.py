"""The lines of a binary stream, each held at most MAX_LINE_BYTES, runs of blank lines read past.

A line past the bound is read past in READ_BYTES pieces and never held. A run of blank lines
(`blank_run`) is read past a buffer at a time, in C: the lines are counted, never given one by
one, so a gzip of 256 MB of newlines costs what decompressing it costs, not a Python step per
line, and the lines after the run keep their true numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

MAX_LINE_BYTES = 16 << 20
READ_BYTES = 1 << 20
BLANK = b" \t\r\n\x0b\x0c"
"""What `bytes.isspace` counts as space: a line of these alone is blank."""
SPACE = frozenset(BLANK)
"""The same bytes, as the ints indexing a buffer gives: a quick look at a line's first byte."""
NOT_BLANK = re.compile(rb"[^ \t\r\n\x0b\x0c]")


def blank_end(data: bytes | bytearray, start: int) -> int:
    """Where the whole blank lines from `start` (a line's start) end: past the last newline
    before the first byte that is not space; `start` itself when its line is not blank. One
    search in C, however many lines."""
    after = NOT_BLANK.search(data, start)
    return data.rfind(b"\n", start, len(data) if after is None else after.start()) + 1 or start


def bounded_lines(
    handle: BinaryIO, skipped: list[tuple[int, bool]] | None = None
) -> Iterator[bytes | None]:
    """Each line of `handle`, or None for a line past MAX_LINE_BYTES: that one is read past in
    READ_BYTES pieces and never held; `skipped` gets its size and whether it starts a JSON
    document."""
    while line := handle.readline(MAX_LINE_BYTES + 1):
        if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
            yield line
            continue
        size, document = len(line), line.lstrip(b"\xef\xbb\xbf \t\r")[:1] in (b"{", b"[")
        while (rest := handle.readline(READ_BYTES)) and not rest.endswith(b"\n"):
            size += len(rest)
        size += len(rest)
        if skipped is not None:
            skipped.append((size, document))
        yield None


class NumberedLines:
    """`bounded_lines` numbered from 1, without the blank lines: each run of them is read past
    by `blank_run` and counted in the numbers of the lines after it."""

    def __init__(self, handle: BinaryIO, skipped: list[tuple[int, bool]] | None = None) -> None:
        self.handle, self.skipped = handle, skipped
        self.number = 0
        """The lines read so far, blank ones included: where a read that fails stopped."""

    def __iter__(self) -> Iterator[tuple[int, bytes | None]]:
        lines = bounded_lines(self.handle, self.skipped)
        while (line := next(lines, b"")) != b"":
            self.number += 1
            if line is None or not line.isspace():
                yield self.number, line
                continue
            for count in blank_run(self.handle):
                self.number += count


def blank_run(handle: BinaryIO) -> Iterator[int]:
    """Read past the whole blank lines ahead a buffer at a time, at C speed; yield how many
    lines each buffer held (as it is read, so a read that fails loses no count). A line that
    is not blank, even one that starts with spaces, is left whole for the next read."""
    peek = getattr(handle, "peek", None)
    while peek is not None:
        ahead = peek(READ_BYTES)
        if not ahead or ahead[:1] not in BLANK:
            return
        rest = len(ahead.lstrip(BLANK))
        end = ahead.rfind(b"\n", 0, len(ahead) - rest) + 1
        if not end:
            return
        handle.read(end)
        yield ahead.count(b"\n", 0, end)
        if rest:
            return
