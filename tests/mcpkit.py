"""Crews whose tools come from the tests' MCP servers (mcp_server.py, mcp_raw.py)."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SERVER = TESTS / "mcp_server.py"
RAW = TESTS / "mcp_raw.py"


def stdio_server(extra: str = "") -> str:
    """The `tools:` entry of the SDK test server over stdio, named srv."""
    return f"srv:\n  mcp: {{command: [python, {SERVER}]}}\n" + textwrap.indent(extra, "  ")


def crew_text(tools: str, turns: str, *, limits: str = "", agent_tools: str = "[srv]") -> str:
    """A one-agent, one-task offline crew whose agent plays `turns` (a YAML list)."""
    return (
        "name: mcp-test\n"
        + (f"limits:\n{textwrap.indent(limits, '  ')}\n" if limits else "")
        + "tools:\n"
        + textwrap.indent(tools, "  ")
        + "\nagents:\n  worker:\n    role: Worker\n    model: offline\n"
        + f"    tools: {agent_tools}\n    script:\n"
        + textwrap.indent(textwrap.dedent(turns), "      ")
        + "\ntasks:\n  - {id: work, agent: worker, prompt: Work.}\n"
    )


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "crew.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def http_server(folder: Path, **env: str) -> Iterator[str]:
    """The SDK test server over streamable HTTP on 127.0.0.1; yields its URL."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = (folder / "http-server.log").open("w", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--http", str(port)],
        cwd=folder,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the HTTP MCP server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise AssertionError("the HTTP MCP server did not listen within 30 s")


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def files_under(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


@contextlib.contextmanager
def refusing_server(status: int, *, calls_only: bool = False) -> Iterator[str]:
    """An HTTP endpoint on 127.0.0.1 that answers every request with `status` (`calls_only`:
    only tools/call, after a handshake that offers the tool `good`); yields its URL."""

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            message = json.loads(body or b"{}")
            method = message.get("method", "")
            if calls_only and "id" not in message:
                return self._send(202, b"")
            if calls_only and method != "tools/call":
                result = {"tools": [{"name": "good", "inputSchema": {"type": "object"}}]}
                if method == "initialize":
                    version = message["params"]["protocolVersion"]
                    info = {"name": "refusing", "version": "1"}
                    result = {"protocolVersion": version, "capabilities": {}, "serverInfo": info}
                reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
                return self._send(200, json.dumps(reply).encode())
            return self._send(status, b"")

        def _send(self, code: int, body: bytes) -> None:
            send(self, code, body)

        do_GET = do_DELETE = do_POST

        def log_message(self, *args: object) -> None:
            pass

    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)) as url:
        yield url


@contextlib.contextmanager
def serving(server: http.server.HTTPServer) -> Iterator[str]:
    """`server` answering on a thread while the block runs; its MCP endpoint's URL."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mcp"
    finally:
        server.shutdown()
        server.server_close()


def send(handler: http.server.BaseHTTPRequestHandler, code: int, body: bytes) -> None:
    """A whole JSON reply (or an empty one) with its length."""
    handler.send_response(code)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
