"""A stdio server's stdout for the SDK's reader, in whole lines, each at most a limit long
(an HTTP server's replies: see httpcap.py).

The SDK's reader (mcp 2.3, `mcp/client/stdio.py`) joins each chunk it reads to the unfinished
line it holds (`buffer + chunk`), so a reply of N bytes costs about N² / 64 KB of copying: a
20 MB reply took 4.4 s of CPU, a 50 MB one ran past a 20 s timeout_s. Given chunks that end at
a line's end, it holds nothing and joins nothing: each reply is joined once, here.

A line is held until it ends, so one that never ends (a server writing without a newline) held
all it wrote: 200 MB written grew mas by 400 MB. Past its limit (LINE_LIMIT, or more for a
server whose tools' `max_output_bytes` is larger) the server is broken: its stdout is closed,
the SDK's reader ends as for a server that exited, and the connection says why.
"""

from __future__ import annotations

import codecs
import contextvars
from dataclasses import dataclass
from typing import Any, NoReturn

LINE_LIMIT = 64 * 2**20
"""Bytes a stdio server's line (one message) may take at least: above 50 MB replies read."""


@dataclass
class LineLimit:
    """The longest line one server may write, and whether it wrote a longer one."""

    limit: int = LINE_LIMIT
    passed: bool = False

    def why(self) -> str:
        """`it wrote a line of more than 64 MiB to stdout, ...`, for the connection's message."""
        return (
            f"it wrote a line of more than {size_text(self.limit)} to stdout, the most one message "
            "may take (a larger max_output_bytes allows more)"
        )


def line_limit(max_output_bytes: int) -> int:
    """A server's line limit: LINE_LIMIT, or 4x its tools' output cap when that is more
    (a reply is JSON: escapes make its text longer on the wire)."""
    return max(LINE_LIMIT, 4 * max_output_bytes)


LIMIT: contextvars.ContextVar[LineLimit | None] = contextvars.ContextVar("mcp_line_limit")
"""Set by the connection's own task: the SDK's reader task, started inside it, reads it."""


class WholeLines:
    """Text chunks of a byte stream, each ending at a newline (the last: whatever is left).

    A line longer than the LIMIT in force (none: LINE_LIMIT) ends the stream: the byte stream
    is closed (so the SDK drains nothing more) and the limit marked `passed`.
    """

    def __init__(self, stream: Any, encoding: str = "utf-8", errors: str = "strict") -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
        self._held: list[str] = []
        self._held_bytes = 0
        self._limit = LIMIT.get(None) or LineLimit()

    def __aiter__(self) -> WholeLines:
        return self

    async def __anext__(self) -> str:
        import anyio

        while True:
            try:
                data = await self._stream.receive()
            except anyio.EndOfStream:
                rest = "".join([*self._held, self._decoder.decode(b"", final=True)])
                self._held, self._held_bytes = [], 0
                if not rest:
                    raise StopAsyncIteration from None
                return rest
            cut = data.rfind(b"\n") + 1
            if not cut:
                await self._hold(data)
                continue
            if self._too_long(data[:cut]):
                await self._broken()
            lines = "".join([*self._held, self._decoder.decode(data[:cut])])
            self._held, self._held_bytes = [], 0
            if cut < len(data):
                await self._hold(data[cut:])
            return lines

    async def _hold(self, data: bytes) -> None:
        """Keep the start of an unfinished line; past the limit, end the stream."""
        self._held_bytes += len(data)
        if self._held_bytes > self._limit.limit:
            await self._broken()
        self._held.append(self._decoder.decode(data))

    def _too_long(self, whole: bytes) -> bool:
        """Whether a line these whole lines end (the held one first) is past the limit."""
        limit = self._limit.limit
        if self._held_bytes + whole.find(b"\n") > limit:
            return True
        return len(whole) > limit and any(len(line) > limit for line in whole.split(b"\n"))

    async def _broken(self) -> NoReturn:
        """Drop what is held, close the stream (the SDK drains nothing more) and end it."""
        self._held, self._limit.passed = [], True
        await self._stream.aclose()
        raise StopAsyncIteration


def size_text(count: int) -> str:
    """`64 MiB`, or bytes when not a whole number of MiB."""
    mib, rest = divmod(count, 2**20)
    return f"{mib} MiB" if mib and not rest else f"{count:,} bytes"


def read_in_whole_lines() -> None:
    """Have the SDK's stdio reader take its server's stdout through WholeLines."""
    import mcp.client.stdio as sdk_stdio

    sdk_stdio.TextReceiveStream = WholeLines  # type: ignore[attr-defined,assignment]
