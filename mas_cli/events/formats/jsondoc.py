"""JSON documents of any layout, streamed: the values at one path, one in memory at a time.

A saved trace is often one JSON document, pretty-printed or not: one object, a list of records,
records under a key (`{"data": [...]}`), or several documents one after another (JSON Lines
included). `iter_values` streams the values at a path with ijson (the yajl2_c backend), so only
the value being built is held, never the whole file, and tells the line each value ends on.

Bounds, checked on the bytes before the parser sees them:
- MAX_VALUE_BYTES: the bytes read since the last value (a 1 GB string, a 100 MB record) stop
  the document there;
- MAX_DEPTH: nesting deeper than this (`[[[[...`) stops it too (ijson's memory grows with the
  square of the depth).
Either way, and for a truncated or malformed document, the values before were read and one bad
entry says where reading stopped and why. Nothing raises to the caller.

A new format's reader gets the input's bytes from `source.document_bytes(source)`, finds where
its records are with `head_events(source.peek)` (and `keys_at`), then reads them with
`iter_values`. Paths use ijson's prefix syntax: "" for each top-level value, "item" for each
element of a top-level list, "data.item.spans.item" for each span of Jaeger's export.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from itertools import accumulate
from typing import Any

import ijson

from mas_cli.events.formats.source import BadLines, ended_by, mostly_left

MAX_VALUE_BYTES = 16 << 20
MAX_DEPTH = 64
READ_BYTES = 1 << 16
HEAD_EVENTS = 50_000

_STRING = re.compile(rb'"[^"]*"')  # in text reduced to quotes and brackets
_DELTA = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')


class DocumentStop(Exception):
    """Nesting past MAX_DEPTH, found while checking bytes before the parser sees them."""


def iter_values(
    chunks: Iterable[bytes], path: str, source: str, bad: BadLines
) -> Iterator[tuple[int, Any]]:
    """(line, value) for each value at `path` in the JSON text `chunks` make up, in order.

    Args:
        chunks: the document's bytes: any pieces (a file's lines read ahead, then the file).
        path: where the values are, in ijson's prefix syntax ("" is each top-level value).
        source: the input's name, for `bad`.
        bad: where a stop (truncated, malformed, too deep, too large) is counted, once.

    Returns:
        Each value as plain Python (dict, list, str, int, float, bool, None) with the line its
        last byte is on. Top-level values may follow one another (concatenated, JSON Lines).
    """
    guard = _Guard(iter(chunks))
    reader = io.BufferedReader(guard, READ_BYTES)
    try:
        for value in ijson.items(
            _Reads(reader), path, multiple_values=True, use_float=True, buf_size=READ_BYTES
        ):
            at = reader.tell()
            guard.mark = at
            yield guard.line(at), value
    except ijson.JSONError as exc:
        bad.add(source, guard.line(reader.tell()), _stopped(guard) or _why(exc))
        _weigh_rest(guard, reader.tell(), bad)
        return
    except (OSError, EOFError) as exc:  # a truncated gzip stream ends the input, not the run
        bad.add(source, guard.line(reader.tell()), f"{ended_by(exc)}: what came before was read")
        bad.ended_early += 1
        return
    if guard.stop:  # the stop fell between two top-level values
        bad.add(source, guard.line(reader.tell()), _stopped(guard))
        _weigh_rest(guard, reader.tell(), bad)


def _weigh_rest(guard: _Guard, done: int, bad: BadLines) -> None:
    """Count the document as cut short when more of it is left than was read."""
    if mostly_left(done, guard.served - done, guard.next_bytes):
        bad.cut_short += 1


def _stopped(guard: _Guard) -> str:
    return f"{guard.stop}: the rest of the document was skipped" if guard.stop else ""


def _why(exc: Exception) -> str:
    reason = str(exc).splitlines()[0].strip() if str(exc) else ""
    if "premature EOF" in reason or not reason:
        return ENDS_EARLY
    return f"not JSON ({reason[:80]}): the rest of the document was skipped"


ENDS_EARLY = "the document ends early (truncated?): what came before was read"


def head_events(head: bytes, limit: int = HEAD_EVENTS) -> list[tuple[str, str, Any]]:
    """The first ijson parse events (prefix, event, value) of a document's first bytes.

    For telling a layout apart: the events stop where `head` is cut, at bad JSON, or at `limit`.
    """
    events: list[tuple[str, str, Any]] = []
    reader = io.BufferedReader(_Guard(iter([head])), READ_BYTES)  # bounded, as documents are
    try:
        for event in ijson.parse(_Reads(reader), multiple_values=True, use_float=True):
            events.append(event)
            if len(events) >= limit:
                break
    except (ijson.JSONError, UnicodeDecodeError):  # not JSON, or not UTF-8: no layout to tell
        pass
    return events


def looks_like_document(head: bytes) -> bool:
    """Whether a head starts a JSON object or list whose first line does not hold it whole
    (pretty-printed, or one line longer than the head): not a line-per-record log."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] not in (b"{", b"["):
        return False
    first = text.split(b"\n", 1)[0]
    return not is_whole_json(first)


def is_whole_json(line: bytes) -> bool:
    """Whether the bytes hold one whole JSON value (and nothing else but blanks)."""
    import msgspec

    try:
        msgspec.json.decode(line)
    except (msgspec.DecodeError, RecursionError):
        return False
    return True


def keys_at(events: list[tuple[str, str, Any]], prefix: str) -> list[str]:
    """The keys of the objects at `prefix` that the head events show, in order."""
    return [value for p, event, value in events if p == prefix and event == "map_key"]


class _Reads:
    """What ijson reads from: one line at a time (C speed), so a value's line is exact."""

    def __init__(self, reader: io.BufferedReader[_Guard]) -> None:
        self.read = reader.readline


class _Guard(io.RawIOBase):
    """The bytes under the parser: counted for line numbers, checked against the bounds."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.pending = chunks, b""
        self.served = self.mark = self.depth = 0
        self.in_string, self.carry = False, b""
        self.stop = ""
        self.lines, self.start, self.chunk, self.ended_line = 0, 0, b"", True
        self.counted_to = self.counted = 0  # newlines in chunk[:counted_to]

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.served

    def readinto(self, buffer: Any) -> int:
        room = MAX_VALUE_BYTES - (self.served - self.mark)
        if self.stop or room <= 0:
            self.stop = self.stop or f"a record larger than {MAX_VALUE_BYTES:,} bytes"
            return 0  # the parser sees the end here; the caller reports the stop
        data = self._checked(self.next_bytes(min(len(buffer), room)))
        self.lines += self.chunk.count(b"\n")
        self.ended_line = self.chunk.endswith(b"\n") if self.chunk else self.ended_line
        self.start, self.chunk = self.served, data
        self.counted_to = self.counted = 0
        self.served += len(data)
        buffer[: len(data)] = data
        return len(data)

    def _checked(self, data: bytes) -> bytes:
        """`data`, or the part of it before nesting passes MAX_DEPTH (then a stop)."""
        state = (self.depth, self.in_string, self.carry)
        if self._passes(data, state):
            return data
        low, high = 0, len(data)  # data[:low] passes, data[:high] does not
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if self._passes(data[:middle], state) else (low, middle)
        self.stop = f"nested deeper than {MAX_DEPTH} levels"
        self._passes(data[:low], state)
        return data[:low]

    def _passes(self, data: bytes, state: tuple[int, bool, bytes]) -> bool:
        """Whether `data` stays within MAX_DEPTH from `state` (kept if so, restored if not)."""
        self.depth, self.in_string, self.carry = state
        try:
            self._nesting(data)
        except DocumentStop:
            self.depth, self.in_string, self.carry = state
            return False
        return True

    def line(self, at: int) -> int:
        """The line of the byte before offset `at` (the last one a value was read from)."""
        inside = at - self.start
        if inside < 1:
            return max(self.lines - (1 if self.ended_line else 0), 0) + 1
        if inside - 1 < self.counted_to:  # values come in order: count on from the last one
            self.counted_to = self.counted = 0
        self.counted += self.chunk.count(b"\n", self.counted_to, inside - 1)
        self.counted_to = inside - 1
        return self.lines + self.counted + 1

    def next_bytes(self, size: int) -> bytes:
        """Up to `size` of the bytes the parser has not been given (b"" at the end)."""
        while not self.pending:
            piece = next(self.chunks, None)
            if piece is None:
                return b""
            self.pending = piece
        data, self.pending = self.pending[:size], self.pending[size:]
        return data

    def _nesting(self, data: bytes) -> None:
        """Follow the nesting depth outside strings; raise past MAX_DEPTH.

        Escapes go first (`\\\\`, then `\\"`; a piece's trailing backslash waits for the
        next), then all but quotes and brackets, then the strings: what is left is structure.
        """
        data = self.carry + data
        kept = len(data.rstrip(b"\\"))
        self.carry = b"\\" * ((len(data) - kept) % 2)
        plain = data[:kept].replace(b"\\\\", b"").replace(b'\\"', b"")
        plain = plain.translate(None, _NOT_STRUCTURE)
        if self.in_string:
            closed = plain.find(b'"')
            if closed < 0:
                return
            plain, self.in_string = plain[closed + 1 :], False
        plain = _STRING.sub(b"", plain)
        opened = plain.find(b'"')
        if opened >= 0:
            plain, self.in_string = plain[:opened], True
        if plain:
            depths = list(accumulate(map(_DELTA.__getitem__, plain), initial=self.depth))
            self.depth = max(depths[-1], 0)
            if max(depths) > MAX_DEPTH:
                raise DocumentStop(f"nested deeper than {MAX_DEPTH} levels")
