"""A stdio server's stdout reaches the SDK's reader in whole lines (mas_cli/tools/mcp/lines.py):
the reader joined each 64 KB chunk to the unfinished line it held, N² / 64 KB of copying for a
reply of N bytes (20 MB: 4.4 s of CPU; 50 MB: past a 20 s timeout)."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
from mcpkit import RAW, send, serving

from mas_cli.tools.mcp.connection import Connection, Launch, StartFailed
from mas_cli.tools.mcp.lines import LIMIT, LineLimit, WholeLines, read_in_whole_lines


async def chunks_of(pieces: list[bytes]) -> list[str]:
    send, receive = anyio.create_memory_object_stream[bytes](len(pieces))
    async with send:
        for piece in pieces:
            await send.send(piece)
    async with receive:
        return [chunk async for chunk in WholeLines(receive, errors="replace")]


def test_chunks_end_at_a_line_end_and_keep_every_byte() -> None:
    pieces = [b"ab", b"c\nd", b"e\n", b"\n", b"f" * 70_000, b"g\nh\xff", b"i", b"\xc3", b"\xa9"]
    got = anyio.run(chunks_of, pieces)
    assert got == ["abc\n", "de\n", "\n", "f" * 70_000 + "g\n", "h\ufffdié"]


def test_a_long_reply_is_one_chunk_not_many() -> None:
    line = b'{"x": "' + b"y" * 1_000_000 + b'"}\n'
    pieces = [line[i : i + 65_536] for i in range(0, len(line), 65_536)]
    assert anyio.run(chunks_of, pieces) == [line.decode()]


def test_the_sdk_reads_a_server_through_it() -> None:
    import mcp.client.stdio as sdk_stdio

    read_in_whole_lines()
    assert sdk_stdio.TextReceiveStream is WholeLines


async def limited(pieces: list[bytes], limit: int) -> tuple[list[str], bool, bool]:
    send, receive = anyio.create_memory_object_stream[bytes](len(pieces))
    async with send:
        for piece in pieces:
            await send.send(piece)
    held = LineLimit(limit)
    LIMIT.set(held)
    async with receive:
        got = [chunk async for chunk in WholeLines(receive)]
        closed = receive._closed
    return got, held.passed, closed


def test_a_line_past_the_limit_ends_the_stream_and_closes_it() -> None:
    # Lines that end within the limit go out; the one that passes it is dropped, not held.
    pieces = [b"a" * 60 + b"\n" + b"b" * 30, b"b" * 30, b"\n", b"c" * 60, b"c" * 60, b"\n"]
    got, passed, closed = anyio.run(limited, pieces, 100)
    assert got == ["a" * 60 + "\n", "b" * 60 + "\n"]
    assert (passed, closed) == (True, True)
    got, passed, _ = anyio.run(limited, pieces[:3], 100)
    assert (got, passed) == (["a" * 60 + "\n", "b" * 60 + "\n"], False)
    got, passed, closed = anyio.run(limited, [b"a" * 150 + b"\nb"], 100)  # whole, yet too long
    assert (got, passed, closed) == ([], True, True)


def test_a_server_whose_handshake_passes_the_limit_does_not_start(tmp_path: Path) -> None:
    async def start() -> str:
        argv = (sys.executable, str(RAW), "bad-schema")
        launch = Launch("raw", 30, argv, tmp_path, {"PATH": os.environ["PATH"]}, line_limit=100)
        connection = Connection(launch)
        try:
            await connection.start()
        except StartFailed as exc:
            return str(exc)
        await connection.close()
        return "started"

    assert anyio.run(start) == (
        "it wrote a line of more than 100 bytes to stdout, the most one message may take "
        "(a larger max_output_bytes allows more)"
    )


PEAK = """
import json, sys
from pathlib import Path
from crewkit import events, of_type, run
from mcpkit import RAW, crew_text, stdio_server, write

def peak_mb():  # VmHWM: the highest resident set of this process so far
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024

root = Path(sys.argv[1])
warm = "- tool_calls: [{name: srv.echo, arguments: {text: hi}}]\\n- text: done\\n"
run(write(root / "warm", crew_text(stdio_server(), warm)), root / "home")
before = peak_mb()
tools = f"raw:\\n  mcp: {{command: [python, {RAW}, endless]}}\\n  include: [good]\\n  timeout_s: 30\\n"
turns = "- tool_calls: [{name: raw.good, arguments: {mb: 200}}]\\n- text: done\\n"
result = run(write(root / "flood", crew_text(tools, turns, agent_tools="[raw]")), root / "home")
(call,) = of_type(events(result), "tool_call")
print(json.dumps({"grew": peak_mb() - before, "call": call, "task": result.tasks["work"].reason}))
"""


def test_a_line_that_never_ends_breaks_the_server_and_memory_stays_bounded(
    tmp_path: Path,
) -> None:
    # The reader held every byte of an unfinished line: 200 MB written without a newline grew
    # mas by about 400 MB, and the call waited out its timeout_s. In a fresh interpreter, so
    # its peak resident set is this run's alone.
    tests = Path(__file__).resolve().parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tests), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["grew"] < 120, found  # the 64 MiB held, never the 200 MB written
    call = found["call"]
    assert call["status"] == "error"
    assert "the MCP server raw is gone: it wrote a line of more than 64 MiB" in call["error"]
    assert "after one restart" in call["error"]  # a broken server fails the task, as a dead one
    assert "line of more than 64 MiB" in (found["task"] or "")


@contextlib.contextmanager
def replying_server(sse: bool = False, mb: int = 0) -> Iterator[str]:
    """An HTTP MCP endpoint whose tools/call reply is a JSON body that never ends, or (`sse`)
    an SSE event of `mb` megabytes of text (none: one that never ends)."""

    class Endless(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            message = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
            if "id" not in message:
                return self._send(202, b"")
            if message.get("method") == "tools/call":
                return self._endless(message["id"])
            result: dict = {"tools": [{"name": "good", "inputSchema": {"type": "object"}}]}
            if message.get("method") == "initialize":
                version = message["params"]["protocolVersion"]
                info = {"name": "endless", "version": "1"}
                result = {"protocolVersion": version, "capabilities": {}, "serverInfo": info}
            reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
            return self._send(200, json.dumps(reply).encode())

        def _endless(self, ident: int) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream" if sse else "application/json")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            start = b'{"jsonrpc": "2.0", "id": %d, "result": {"content": [{"type": "text", ' % ident
            start = (b"data: " if sse else b"") + start + b'"text": "'
            pieces = [start, *[b"x" * 65_536] * (mb * 16 or 2_000)]
            pieces += [b'"}]}}\n\n', b""] if mb else []  # the end of the reply, then of the body
            with contextlib.suppress(OSError):  # until mas hangs up
                for piece in pieces:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))

        def _send(self, code: int, body: bytes) -> None:
            send(self, code, body)

        def do_GET(self) -> None:
            self._send(405, b"")

        def log_message(self, *args: object) -> None:
            pass

    class Quiet(http.server.ThreadingHTTPServer):
        def handle_error(self, *args: object) -> None:
            pass  # mas hanging up mid-reply is the point

    with serving(Quiet(("127.0.0.1", 0), Endless)) as url:
        yield url


async def call(url: str, limit: int) -> str:
    """One call of the tool `good`; what it answered, or its error."""
    connection = Connection(Launch("h", 10, url=url, line_limit=limit))
    await connection.start()
    try:
        result = await asyncio.wait_for(connection.call("good", {}), 20)
    except Exception as exc:  # the MCPError the SDK makes of it
        return str(getattr(exc, "message", exc))
    finally:
        await connection.close()
    return f"replied {len(result.content[0].text)}"  # type: ignore[union-attr]


def test_an_http_reply_past_the_limit_fails_its_call_not_memory() -> None:
    # The SDK read a JSON reply whole (`response.aread()`): a body without end grew mas by
    # what the server sent (200 MB: 227 MB) until timeout_s. Now it is read up to the limit.
    with replying_server() as url:
        said = anyio.run(call, url, 1_000_000)
    assert (
        "the server's reply is longer than 1,000,000 bytes, the most one message may take" in said
    )


def test_an_sse_reply_is_bounded_by_the_same_limit_not_1_mib() -> None:
    # The SDK bounds an SSE event at 1 MiB and ends the stream past it: a 2 MB reply over SSE
    # made the server "gone" (restarted, then the task failed), where JSON took it.
    with replying_server(sse=True, mb=2) as url:
        assert anyio.run(call, url, 64 * 2**20) == f"replied {2 * 2**20}"
    with replying_server(sse=True) as url:
        said = anyio.run(call, url, 1_000_000)
    assert "exceeded the 1000000 byte limit" in said
