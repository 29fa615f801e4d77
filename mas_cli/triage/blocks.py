"""Our own log read as byte ranges: a big file cut at run boundaries, one part per worker, and
each part read in blocks of whole lines made into one JSON array for msgspec to decode at once
(see `scan.py`, which folds them)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from mas_cli.events.formats.lines import MAX_LINE_BYTES
from mas_cli.events.formats.mas import as_array

BLOCK = 1 << 20  # a block, its array and its decoded lines stay in a core's cache (4 MB: 6% slower)
NEWLINE, OPEN, CLOSE = ord("\n"), ord("["), ord("]")
RUN_MARK = b'"run_started"'  # the type's value; inside a JSON string it would be escaped


def blocks(path: str, start: int, end: int) -> Iterator[tuple[memoryview, memoryview] | None]:
    """Whole lines of a byte range, about BLOCK bytes at a time: each as `mas.as_array` makes
    it, and as it is; None for a line past MAX_LINE_BYTES, read past and never held.

    The array is made in place: the lines are read in after a `[`, and one `replace` turns
    newlines into commas and gives the copy the array lives in (faster than counting lines, and
    the decoder then proves one value a line). Each view is valid until the next block is asked
    for: the buffer is read into again.
    """
    buf = bytearray(BLOCK)
    buf[0] = OPEN
    fd = os.open(path, os.O_RDONLY)
    try:
        kept, offset = 1, start  # buf[1:kept]: the start of a line carried over from the last read
        while offset < end:
            if kept > MAX_LINE_BYTES:  # the buffer is full of one line past the bound
                offset, kept = _past_line(fd, buf, offset, end), 1
                yield None
                continue
            if kept == len(buf):  # a line longer than the buffer: a bigger one, up to the bound
                buf = buf + bytearray(min(len(buf), MAX_LINE_BYTES + 2 - len(buf)))
            view = memoryview(buf)
            room = view[kept : kept + min(len(buf) - kept, end - offset)]
            got = os.preadv(fd, [room], offset)
            if not got:  # the file shrank while it was read
                break
            offset += got
            filled = kept + got
            cut = buf.rfind(b"\n", 1, filled) + 1 if offset < end else filled
            if cut > 1:
                yield _array(buf, cut), view[1:cut]
                buf[1 : 1 + filled - cut] = buf[cut:filled]
            kept = 1 + filled - max(cut, 1)
    finally:
        os.close(fd)


def _past_line(fd: int, buf: bytearray, offset: int, end: int) -> int:
    """Where the line being read ends (after its newline), reading through `buf[1:]`."""
    while offset < end:
        got = os.preadv(fd, [memoryview(buf)[1 : 1 + min(len(buf) - 1, end - offset)]], offset)
        newline = buf.find(b"\n", 1, 1 + got)
        if newline > 0:
            return offset + newline
        if not got:
            break
        offset += got
    return end


def _array(buf: bytearray, cut: int) -> memoryview:
    if buf[cut - 1] != NEWLINE:  # the last line of the file, without a newline
        return memoryview(as_array(buf[1:cut]))
    array = buf.replace(b"\n", b",")  # bytes past `cut` change too: they are not looked at
    array[cut - 1] = CLOSE
    return memoryview(array)[:cut]


def split_at_runs(path: Path, size: int, chunk: int, start: int = 0) -> list[tuple[int, int]]:
    """Byte ranges of about `chunk` bytes, each starting at a run_started line (or at `start`,
    past a byte order mark)."""
    bounds = [start]
    with path.open("rb") as handle:
        while bounds[-1] + chunk < size:
            found = _next_run_start(handle, bounds[-1] + chunk, size)
            if found is None:
                break
            bounds.append(found)
    return list(zip(bounds, [*bounds[1:], size], strict=True))


def _next_run_start(handle: BinaryIO, offset: int, size: int) -> int | None:
    window = 1 << 20
    while offset < size:
        handle.seek(offset)
        data = handle.read(window + len(RUN_MARK))
        newline = data.find(b"\n")
        at = data.find(RUN_MARK, newline + 1) if newline >= 0 else -1
        if at >= 0:
            return offset + data.rfind(b"\n", 0, at) + 1
        offset += window
    return None
