"""An MCP server for the tests, written with the official SDK: stdio, or streamable HTTP.

    python mcp_server.py              # stdio
    python mcp_server.py --http PORT  # streamable HTTP on 127.0.0.1:PORT/mcp

Tools: echo, add (counts its runs in calls.txt in its working folder, so a test tells a run from
a cache hit), slow (sleeps), fail (reports an error), crash (kills the server), environment
(prints the server's whole environment), pids (starts a child; writes pids.json), headers
(prints the HTTP request's headers), deliver (appends the idempotency key it got as an argument
and in the request's `_meta` to deliveries.jsonl, once per key).
With REQUIRE_AUTH set, an HTTP call without `Authorization: Bearer $REQUIRE_AUTH` is refused.
With SLOW_START set, the server sleeps that many seconds before it serves. With COUNT_STARTS set,
each start appends its pid to starts.txt; with CRASH_TIMES=N, crash kills the server only its
first N times (crashes.txt counts them) and answers "survived" after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

app = MCPServer("test-server")


@app.tool()
def echo(text: str) -> str:
    """Give the text back."""
    return text


@app.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    with Path("calls.txt").open("a", encoding="utf-8") as calls:
        calls.write("add\n")
    return a + b


@app.tool()
async def slow(seconds: float) -> str:
    """Sleep, then answer."""
    await anyio.sleep(seconds)
    return "done"


@app.tool()
def fail(why: str) -> str:
    """Always fails, saying why."""
    raise ToolError(f"refused: {why}")


@app.tool()
def crash() -> str:
    """Kill the server process at once."""
    times = int(os.environ.get("CRASH_TIMES", "0"))  # 0: every call
    done = Path("crashes.txt").read_text().count("\n") if Path("crashes.txt").exists() else 0
    if times and done >= times:
        return "survived"
    with Path("crashes.txt").open("a", encoding="utf-8") as crashes:
        crashes.write(f"{os.getpid()}\n")
    os._exit(3)


@app.tool()
def environment() -> str:
    """The server's whole environment, as JSON."""
    return json.dumps(dict(os.environ), sort_keys=True)


@app.tool()
def pids() -> str:
    """Start a sleeping child, then write this server's, its parent's and the child's pids."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    found = {"server": os.getpid(), "parent": os.getppid(), "child": child.pid}
    Path("pids.json").write_text(json.dumps(found), encoding="utf-8")
    return json.dumps(found)


@app.tool()
def headers(ctx: Context) -> str:
    """The HTTP request's headers, as JSON."""
    _authorized(ctx)
    return json.dumps(dict(ctx.headers or {}), sort_keys=True)


@app.tool()
def deliver(to: str, ctx: Context, idempotency_key: str | None = None) -> str:
    """Deliver a parcel, once per idempotency key."""
    meta = ctx.request_context.meta
    meta = meta if isinstance(meta, dict) else dict(getattr(meta, "__dict__", {}) or {})
    entry = {"to": to, "argument": idempotency_key, "meta": meta.get("mas/idempotency_key")}
    book = Path("deliveries.jsonl")
    seen = [json.loads(line) for line in book.read_text().splitlines()] if book.exists() else []
    if idempotency_key is None or idempotency_key not in {e["argument"] for e in seen}:
        with book.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")
    return f"delivered to {to}"


def _authorized(ctx: Context) -> None:
    token = os.environ.get("REQUIRE_AUTH")
    if token and (ctx.headers or {}).get("authorization") != f"Bearer {token}":
        raise ToolError("unauthorized")


if __name__ == "__main__":
    if os.environ.get("COUNT_STARTS"):
        with Path("starts.txt").open("a", encoding="utf-8") as starts:
            starts.write(f"{os.getpid()}\n")
    time.sleep(float(os.environ.get("SLOW_START", "0")))
    if sys.argv[1:2] == ["--http"]:
        port = int(sys.argv[2])
        anyio.run(lambda: app.run_streamable_http_async(host="127.0.0.1", port=port))
    else:
        app.run()
