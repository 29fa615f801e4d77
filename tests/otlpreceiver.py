"""A minimal OTLP/HTTP trace receiver on 127.0.0.1: decodes what the SDK's exporter posts.

Modes: `ok` answers 200 and keeps the spans; `hang` accepts the connection and never answers
(a collector that is stuck); `refuse` answers 503 (retryable) every time; `echo` answers 401
with the request's authorization header as its reason (a proxy that quotes what it refused);
`too-large` answers 413, `small` answers 413 to a request past SMALL bytes, `busy` 429 with Retry-After: 3600, `close` closes the connection
without an answer; `stall` holds every request until `release` is set, then takes it.
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

ANSWERS = {
    "too-large": (413, {"content-length": "0"}),
    "busy": (429, {"retry-after": "3600", "content-length": "0"}),
}


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
                if receiver.mode == "small" and len(body) > SMALL:
                    self.send_response(413)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                if receiver.mode in ANSWERS:
                    status, headers = ANSWERS[receiver.mode]
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    return
                if receiver.mode == "close":  # reads the request, closes without an answer
                    self.close_connection = True
                    return
                if receiver.mode == "echo":
                    self.send_response(401, self.headers.get("authorization", "no header"))
                    self.end_headers()
                    return
                if receiver.mode == "refuse":
                    self.send_response(503)
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
