"""A stdio server's stdout reaches the SDK's reader in whole lines (mas_cli/tools/mcp/lines.py):
the reader joined each 64 KB chunk to the unfinished line it held, N² / 64 KB of copying for a
reply of N bytes (20 MB: 4.4 s of CPU; 50 MB: past a 20 s timeout)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
from mcpkit import RAW

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
