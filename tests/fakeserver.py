"""A local HTTP server that speaks the OpenAI chat-completions and Anthropic messages wire formats.

It runs in a thread on 127.0.0.1 (an ephemeral port) and answers from a script per route: a
queue of `Reply`s, or a function of the request. It records every request it receives, headers
included, so tests can check what the official SDKs really sent.

Speed matters: with Nagle's algorithm on and the headers and body in separate writes, delayed
ACKs add ~40 ms to every request. The handler disables Nagle and writes each response in one
send, over HTTP/1.1 keep-alive.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPENAI = "/v1/chat/completions"
ANTHROPIC = "/v1/messages"
REASONS = {200: "OK", 401: "Unauthorized", 429: "Too Many Requests", 500: "Internal Server Error"}


class QuietServer(ThreadingHTTPServer):
    """The server, silent when a client drops its connection (a killed worker, a timed-out
    call): socketserver prints a traceback for it from the request's thread, outside any
    test's captured output."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass(frozen=True)
class Reply:
    """One scripted response: a status, headers, a JSON or raw body, a delay, or a dropped line."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False  # close the connection without answering


@dataclass(frozen=True)
class Seen:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any


Handler = Callable[[Any], Reply]


@dataclass
class Route:
    """The script of one path: queued replies first, then the handler, else a loud 599."""

    queue: deque[Reply] = field(default_factory=deque)
    handler: Handler | None = None

    def push(self, *replies: Reply) -> None:
        """Queue replies, answered in order."""
        self.queue.extend(replies)

    def next(self, body: Any) -> Reply:
        if self.queue:
            return self.queue.popleft()
        if self.handler is not None:
            return self.handler(body)
        return Reply(599, {"error": {"message": "fake server: the script ran out"}})


class FakeServer:
    """The server, its routes, and the requests it saw. Use as a context manager."""

    def __init__(self) -> None:
        self.routes = {OPENAI: Route(), ANTHROPIC: Route()}
        self.seen: list[Seen] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._http = QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._http.daemon_threads = True
        # A short poll interval: stop() waits for the serving loop to notice, once per test.
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT"""
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai(self) -> Route:
        """The chat-completions route (base_url is url + /v1)."""
        return self.routes[OPENAI]

    @property
    def anthropic(self) -> Route:
        """The messages route (base_url is url)."""
        return self.routes[ANTHROPIC]

    def requests(self, path: str) -> list[Seen]:
        """What was received on one path, in order."""
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def answer(self, seen: Seen) -> Reply:
        with self._lock:
            self.seen.append(seen)
            route = self.routes.get(seen.path)
            if route is None:
                return Reply(404, {"error": {"message": f"fake server: no route {seen.path}"}})
            return route.next(seen.json)

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving and free the port; delayed replies are woken and dropped. Idempotent."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()


def _handler_for(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            body = json.loads(raw) if raw else None
            seen = Seen("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            reply = server.answer(seen)
            if reply.delay_s and server.stopping.wait(reply.delay_s):
                self.close_connection = True
                return
            if reply.drop:
                self.close_connection = True
                return
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            payload = reply.body if reply.body is not None else json.dumps(reply.json).encode()
            headers = {"content-type": "application/json", **reply.headers}
            lines = [f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            lines += [f"content-length: {len(payload)}", "", ""]
            try:  # one send: headers and body together
                self.wfile.write("\r\n".join(lines).encode("latin-1") + payload)
            except OSError:
                self.close_connection = True  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: ARG002
            return  # quiet: pytest output is for failures

    return _Handler


# -- wire-format builders, so tests read as scripts -------------------------------------------


def openai_text(
    text: str, *, usage: dict[str, Any] | None = None, model: str = "gpt-4o-mini"
) -> Reply:
    """A chat completion answering with text."""
    return Reply(json=_chat({"role": "assistant", "content": text}, "stop", usage, model))


def openai_tools(*calls: tuple[str, str], usage: dict[str, Any] | None = None) -> Reply:
    """A chat completion asking for tools: (name, arguments as a JSON string) pairs."""
    tool_calls = [
        {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
        for i, (n, a) in enumerate(calls)
    ]
    message = {"role": "assistant", "content": None, "tool_calls": tool_calls}
    return Reply(json=_chat(message, "tool_calls", usage, "gpt-4o-mini"))


def _chat(
    message: dict[str, Any], finish: str, usage: dict[str, Any] | None, model: str
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage or {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def anthropic_text(text: str, *, usage: dict[str, Any] | None = None) -> Reply:
    """A message answering with text."""
    return Reply(json=_message([{"type": "text", "text": text}], "end_turn", usage))


def anthropic_tools(*calls: tuple[str, Any], text: str = "") -> Reply:
    """A message asking for tools: (name, input) pairs, after optional text."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    blocks += [
        {"type": "tool_use", "id": f"toolu_{i}", "name": n, "input": a}
        for i, (n, a) in enumerate(calls)
    ]
    return Reply(json=_message(blocks, "tool_use", None))


def _message(
    content: list[dict[str, Any]], stop: str, usage: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 13, "output_tokens": 5},
    }


def error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """An OpenAI-style error body: message, type and code."""
    return Reply(
        status, {"error": {"message": message, "type": kind, "code": code}}, headers=headers or {}
    )


def anthropic_error(
    status: int,
    kind: str,
    message: str,
    *,
    error_code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """An Anthropic-style error body, with error.details.error_code when given."""
    err: dict[str, Any] = {"type": kind, "message": message}
    if error_code:
        err["details"] = {"error_code": error_code}
    return Reply(status, {"type": "error", "error": err}, headers=headers or {})


# -- a greedy server: the largest output it is allowed, and the largest honest input count -----

UNCAPPED_OUTPUT = 100_000  # what the server writes when a request sends no output cap
ANTHROPIC_TOOL_PROMPT = 346  # Anthropic's documented tool-use system prompt, in tokens
SPECIAL_PER_MESSAGE = 4  # <|start|>role ... <|end|>


def _size(value: Any) -> int:
    """UTF-8 bytes of a text, or of a value's compact JSON: one token per byte at most."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return len(text.encode("utf-8", "surrogatepass"))


def _texts(value: Any) -> int:
    """Bytes of every text a server tokenizes in a message's content, blocks and tool calls."""
    if isinstance(value, str):
        return _size(value)
    if isinstance(value, list):
        return sum(_texts(v) for v in value)
    if isinstance(value, dict):
        structured = ("input", "arguments", "parameters", "input_schema")
        return sum(
            _size(v) if k in structured else _texts(v) for k, v in value.items() if k != "type"
        )
    return _size(value) if value is not None else 0


def honest_input_tokens(path: str, body: dict[str, Any]) -> int:
    """The most input tokens a byte-level BPE server can honestly count for this body:
    one per byte of every text, tool schema and response_format, plus special tokens."""
    messages = body.get("messages") or []
    count = sum(_texts(m) + SPECIAL_PER_MESSAGE for m in messages) + 3
    count += _texts(body.get("system")) + SPECIAL_PER_MESSAGE
    count += sum(_size(t) + SPECIAL_PER_MESSAGE for t in body.get("tools") or [])
    count += _size(body["response_format"]) if "response_format" in body else 0
    if path == ANTHROPIC and body.get("tools"):
        count += ANTHROPIC_TOOL_PROMPT
    return count


@dataclass
class Greedy:
    """Answers every request with the largest output it is allowed (max_tokens or
    max_completion_tokens, times n; UNCAPPED_OUTPUT when none is sent) and reports it, with
    the input counted by `honest_input_tokens`. Asks for `calls_per_turn` calls of `tool`
    while the conversation has fewer than `tool_turns` tool turns. Keeps what it billed."""

    tool: str | None = None
    calls_per_turn: int = 1
    tool_turns: int = 0
    billed: list[tuple[int, int]] = field(default_factory=list)  # (input, output) per request

    def install(self, server: FakeServer) -> None:
        """Answer both routes."""
        server.openai.handler = lambda body: self.answer(OPENAI, body)
        server.anthropic.handler = lambda body: self.answer(ANTHROPIC, body)

    def answer(self, path: str, body: dict[str, Any]) -> Reply:
        cap = body.get("max_completion_tokens") or body.get("max_tokens") or UNCAPPED_OUTPUT
        output = cap * int(body.get("n") or 1)
        inputs = honest_input_tokens(path, body)
        self.billed.append((inputs, output))
        calls = self._calls(body)
        text = "w" * min(output, 4096)
        if path == OPENAI:
            reply = openai_tools(*calls) if calls else openai_text(text)
            reply.json["usage"] = {
                "prompt_tokens": inputs,
                "completion_tokens": output,
                "total_tokens": inputs + output,
            }
            return reply
        reply = (
            anthropic_tools(*[(n, json.loads(a)) for n, a in calls])
            if calls
            else anthropic_text(text)
        )
        reply.json["usage"] = {"input_tokens": inputs, "output_tokens": output}
        return reply

    def _calls(self, body: dict[str, Any]) -> list[tuple[str, str]]:
        if self.tool is None or not body.get("tools"):
            return []
        turns = sum(1 for m in body.get("messages") or [] if _asked_for_tools(m))
        if turns >= self.tool_turns:
            return []
        return [
            (self.tool, json.dumps({"text": f"t{turns}-{i}"})) for i in range(self.calls_per_turn)
        ]


def _asked_for_tools(message: dict[str, Any]) -> bool:
    """An assistant turn that called tools, in either wire format."""
    if message.get("role") != "assistant":
        return False
    content = message.get("content")
    blocks = content if isinstance(content, list) else []
    return bool(message.get("tool_calls")) or any(
        isinstance(b, dict) and b.get("type") == "tool_use" for b in blocks
    )
