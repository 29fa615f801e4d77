"""A minimal OTLP/HTTP trace receiver on 127.0.0.1: decodes what the SDK's exporter posts.

Modes: `ok` answers 200 and keeps the spans; `hang` accepts the connection and never answers
(a collector that is stuck); `refuse` answers 503 (retryable) every time; `echo` answers 401
with the request's authorization header as its reason (a proxy that quotes what it refused);
`too-large` answers 413, `small` answers 413 to a request past SMALL bytes, `busy` 429 with Retry-After: 3600, `close` closes the connection
without an answer; `markup` answers 500 with MARKUP as its reason; `stall` holds every request until `release` is set, then takes it.
For a collector that is down, use a port nobody listens on (`closed_port`). `paths` holds the
path of every request.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

ANSWERS = {"too-large": (413, {}), "busy": (429, {"retry-after": "3600"})}


MARKUP = "[/yellow] [bold]x[/bold] [link=http://evil.example]click[/link]"
SMALL = 4000  # the largest request `small` takes, in bytes


class Receiver:
    """Start with `with Receiver() as r:`; `r.url` is the endpoint, `r.spans` what arrived."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.spans: list[Span] = []
        self.requests = 0
        self.paths: list[str] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    receiver.requests += 1
                    receiver.paths.append(self.path)
                if receiver.mode in ("hang", "stall"):
                    receiver.release.wait(60)
                    if receiver.mode == "hang":
                        return
                if receiver.mode == "close":  # reads the request, closes without an answer
                    self.close_connection = True
                    return
                refusal = self._refusal(len(body))
                if refusal is not None:
                    status, reason, headers = refusal
                    self.send_response(status, reason)
                    for name, value in {"content-length": "0", **headers}.items():
                        self.send_header(name, value)
                    self.end_headers()
                    return
                request = ExportTraceServiceRequest.FromString(body)
                with receiver.lock:
                    for resource in request.resource_spans:
                        for scope in resource.scope_spans:
                            receiver.spans.extend(scope.spans)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def _refusal(self, size: int) -> tuple[int, str | None, dict[str, str]] | None:
                """How this mode refuses a request of `size` bytes, or None: it takes it."""
                mode = receiver.mode
                if mode in ANSWERS:
                    status, headers = ANSWERS[mode]
                    return status, None, headers
                if mode == "small" and size > SMALL:
                    return 413, None, {}
                if mode == "markup":  # a reason phrase that reads as rich markup
                    return 500, MARKUP, {}
                if mode == "echo":
                    return 401, self.headers.get("authorization", "no header"), {}
                return (503, None, {}) if mode == "refuse" else None

            def log_message(self, *_: Any) -> None:
                pass

        return Handler

    def wait_for(self, count: int, timeout_s: float = 30.0) -> list[Span]:
        """The spans received, once there are `count` of them (or the timeout passed)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.spans) >= count:
                    return list(self.spans)
            time.sleep(0.05)
        with self.lock:
            return list(self.spans)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
