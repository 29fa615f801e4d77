"""A bound on the size of a provider's response body, for the SDKs' HTTP clients.

A response hook refuses a declared Content-Length past MAX_RESPONSE_BYTES, and wraps the body
so that reading stops once it passes the bound, counted after gzip/deflate decoding (a small
compressed body cannot expand past it either). The call then fails with `ResponseTooLarge`, an
LlmFailure the SDKs pass through untouched, before the body is ever held whole. Imported only
by the providers: it loads httpx2.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx2

from mas_cli.llm.types import LlmFailure

MAX_RESPONSE_BYTES = 16 << 20
_PIECE = 1 << 20
_ZLIB_ANY = 32 + zlib.MAX_WBITS  # a gzip or a zlib header, told apart by zlib itself


class ResponseTooLarge(LlmFailure):
    """A response body past MAX_RESPONSE_BYTES: refused, never read whole."""

    def __init__(self, host: str) -> None:
        super().__init__(
            f"the response from {host} is larger than {MAX_RESPONSE_BYTES:,} bytes; refused",
            kind="response_too_large",
            retryable=False,
            hint="no model answer is that large: check the server (base_url) and the model's "
            "max_tokens",
        )


class _Bounded(httpx2.AsyncByteStream):
    """The raw body, passed through while its decoded size stays within the bound."""

    def __init__(self, inner: httpx2.AsyncByteStream, encoding: str, host: str) -> None:
        self._inner, self._host, self._size = inner, host, 0
        self._decoder = zlib.decompressobj(_ZLIB_ANY) if encoding in ("gzip", "deflate") else None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._size += self._decoded_size(chunk)
            if self._size > MAX_RESPONSE_BYTES:
                raise ResponseTooLarge(self._host)
            yield chunk

    def _decoded_size(self, chunk: bytes) -> int:
        if self._decoder is None:
            return len(chunk)
        try:  # decoded a piece at a time, and dropped: only its length is wanted
            size = len(self._decoder.decompress(chunk, _PIECE))
            while self._decoder.unconsumed_tail and size <= MAX_RESPONSE_BYTES:
                size += len(self._decoder.decompress(self._decoder.unconsumed_tail, _PIECE))
        except zlib.error:
            self._decoder = None  # not what it claims: httpx2 will say so when it decodes
            return len(chunk)
        return size

    async def aclose(self) -> None:
        await self._inner.aclose()


async def bound_response(response: httpx2.Response) -> None:
    """Refuse a body declared past the bound; wrap the rest so that reading stops at it."""
    host = response.request.url.host
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_RESPONSE_BYTES:
        raise ResponseTooLarge(host)
    if isinstance(response.stream, httpx2.AsyncByteStream):
        encoding = response.headers.get("content-encoding", "").strip().lower()
        response.stream = _Bounded(response.stream, encoding, host)


HOOKS: dict[str, list[Callable[[httpx2.Response], Awaitable[None]]]] = {
    "response": [bound_response]
}
"""`event_hooks=` for an SDK's AsyncClient."""
