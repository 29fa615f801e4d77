"""A stdio server's stdout for the SDK's reader, in whole lines.

The SDK's reader (mcp 2.3, `mcp/client/stdio.py`) joins each chunk it reads to the unfinished
line it holds (`buffer + chunk`), so a reply of N bytes costs about N² / 64 KB of copying: a
20 MB reply took 4.4 s of CPU, a 50 MB one ran past a 20 s timeout_s. Given chunks that end at
a line's end, it holds nothing and joins nothing: each reply is joined once, here.
"""

from __future__ import annotations

from typing import Any


class WholeLines:
    """Text chunks of a byte stream, each ending at a newline (the last: whatever is left)."""

    def __init__(self, stream: Any, encoding: str = "utf-8", errors: str = "strict") -> None:
        from anyio.streams.text import TextReceiveStream

        self._text = TextReceiveStream(stream, encoding=encoding, errors=errors)
        self._held: list[str] = []

    def __aiter__(self) -> WholeLines:
        return self

    async def __anext__(self) -> str:
        import anyio

        while True:
            try:
                chunk = await self._text.receive()
            except anyio.EndOfStream:
                if not self._held:
                    raise StopAsyncIteration from None
                rest, self._held = "".join(self._held), []
                return rest
            cut = chunk.rfind("\n") + 1
            if not cut:
                self._held.append(chunk)
                continue
            lines = "".join([*self._held, chunk[:cut]])
            self._held = [chunk[cut:]] if cut < len(chunk) else []
            return lines


def read_in_whole_lines() -> None:
    """Have the SDK's stdio reader take its server's stdout through WholeLines."""
    import mcp.client.stdio as sdk_stdio

    sdk_stdio.TextReceiveStream = WholeLines  # type: ignore[attr-defined,assignment]
