"""An HTTP server's JSON replies, each read up to the server's line limit (see lines.py).

The SDK reads a JSON reply whole (`response.aread()`), so a body without end held all the
server sent: 200 MB grew mas by 227 MB until timeout_s. Past the limit the read fails with a
StreamError, which the SDK makes that call's error; the connection stays. An SSE stream is
left alone: the SDK bounds each of its events (to the same limit, see connection._http).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2

from mas_cli.tools.mcp.lines import size_text


async def cap_json_reply(response: httpx2.Response, limit: int) -> None:
    """A response hook: a JSON reply's body stops with a StreamError past `limit` bytes."""
    if response.headers.get("content-type", "").lower().startswith("application/json"):
        response.stream = Capped(response.stream, limit)


class Capped(httpx2.AsyncByteStream):
    """A response body that stops with a StreamError past `limit` bytes."""

    def __init__(self, stream: httpx2.SyncByteStream | httpx2.AsyncByteStream, limit: int) -> None:
        assert isinstance(stream, httpx2.AsyncByteStream)  # an AsyncClient's
        self.stream, self.limit = stream, limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        read = 0
        async for piece in self.stream:
            read += len(piece)
            if read > self.limit:
                said = f"the server's reply is longer than {size_text(self.limit)}"
                raise httpx2.StreamError(f"{said}, the most one message may take")
            yield piece

    async def aclose(self) -> None:
        """Close the body under it."""
        await self.stream.aclose()
