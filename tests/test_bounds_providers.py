"""A provider never holds a response body past its bound: declared, streamed, or gzip-expanded."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fakeserver import QuietServer

from mas_cli.llm.anthropic_provider import AnthropicProvider
from mas_cli.llm.openai_provider import OpenAIProvider
from mas_cli.llm.response_cap import MAX_RESPONSE_BYTES
from mas_cli.llm.types import CallSite, Completion, LlmFailure, Message, Request
from mas_cli.spec.model_spec import ModelSpec

HUGE = MAX_RESPONSE_BYTES * 3  # 48 MiB of one answer "claiming 1 token"
PIECE = 1 << 20
ANSWERS = {
    "openai": {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    },
    "anthropic": {
        "id": "m1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    },
}


class _Handler(BaseHTTPRequestHandler):
    """Answers every POST the way the server's `mode` says (set by the test)."""

    protocol_version = "HTTP/1.1"
    mode = "declared"
    provider = "openai"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            getattr(self, "_" + self.server.mode)()  # type: ignore[attr-defined]
        except OSError:
            self.close_connection = True  # the client stopped reading: as it should

    def _head(self, **headers: str) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()

    def _declared(self) -> None:
        self._head(content_length=str(HUGE))
        for _ in range(HUGE // PIECE):
            self.wfile.write(b" " * PIECE)

    def _chunked(self) -> None:
        self._head(transfer_encoding="chunked")
        for _ in range(HUGE // PIECE):
            self.wfile.write(b"%x\r\n%s\r\n" % (PIECE, b" " * PIECE))
        self.wfile.write(b"0\r\n\r\n")

    def _gzip(self) -> None:
        body = self.server.bomb  # type: ignore[attr-defined]
        self._head(content_encoding="gzip", content_length=str(len(body)))
        self.wfile.write(body)

    def _small_gzip(self) -> None:
        body = gzip.compress(json.dumps(ANSWERS[self.server.provider]).encode())  # type: ignore[attr-defined]
        self._head(content_encoding="gzip", content_length=str(len(body)))
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: ARG002
        return


@pytest.fixture(scope="module")
def http() -> Iterator[ThreadingHTTPServer]:
    server = QuietServer(("127.0.0.1", 0), _Handler)  # the client cuts big answers off
    server.daemon_threads = True
    server.bomb = gzip.compress(b" " * HUGE, compresslevel=1)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _call(server: ThreadingHTTPServer, provider: str, mode: str) -> tuple[Any, float]:
    server.mode, server.provider = mode, provider  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{server.server_address[1]}"
    model = ModelSpec.model_validate(
        {
            "provider": provider,
            "model": "m",
            "base_url": url + ("/v1" if provider == "openai" else ""),
        }
    )
    request = Request(
        model=model,
        system="s",
        messages=(Message("user", "hi"),),
        timeout_s=30.0,
        site=CallSite("a", "t"),
    )

    client = (OpenAIProvider if provider == "openai" else AnthropicProvider)(model)  # SDK loaded

    async def go() -> Completion | LlmFailure:
        try:
            return await client.complete(request)
        except LlmFailure as exc:
            return exc
        finally:
            await client.aclose()

    tracemalloc.start()
    try:
        return asyncio.run(go()), tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("mode", ["declared", "chunked", "gzip"])
def test_a_response_past_the_bound_fails_the_call_before_it_is_held(
    http: ThreadingHTTPServer, provider: str, mode: str
) -> None:
    outcome, peak = _call(http, provider, mode)
    assert isinstance(outcome, LlmFailure)
    assert outcome.kind == "response_too_large"
    assert not outcome.retryable
    assert outcome.message == (
        f"the response from 127.0.0.1 is larger than {MAX_RESPONSE_BYTES:,} bytes; refused"
    )
    assert peak < 40, f"{peak:.0f} MB"  # the whole body would be 48 MiB, and copies of it


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_small_gzip_answer_still_reads(http: ThreadingHTTPServer, provider: str) -> None:
    outcome, _ = _call(http, provider, "small_gzip")
    assert isinstance(outcome, Completion), outcome
    assert outcome.message.content == "ok"
