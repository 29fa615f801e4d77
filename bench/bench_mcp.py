"""MCP tools: the latency an MCP call adds over a function tool, and an MCP cache hit.

Run: python bench/bench_mcp.py [--calls N]
Prints, over N calls of each (taken in turns, so load changes hit them alike), the median and
p95 latency of one call as a run makes it (argument checks, the call, the result, scrubbing;
no cache) of
  1. a Python function tool `echo(text)`,
  2. the same tool in an MCP server over stdio (tests/mcp_server.py, the official SDK),
  3. the same over streamable HTTP on 127.0.0.1,
the added latency of 2 and 3 over 1, and 4. the latency of a cache hit of the stdio tool
declared deterministic (key, lookup, result), next to the call it replaces.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mas_cli.spec.loader import load_crew
from mas_cli.tools import Tool, load_tools, scrubbed
from mas_cli.tools.cache import ToolCache, cache_dir, call_cached
from mas_cli.tools.mcp import open_servers

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "tests" / "mcp_server.py"
ARGS = {"text": "hello"}


def crew_file(folder: Path, url: str) -> Path:
    (folder / "tools.py").write_text(
        'def echo(text: str) -> str:\n    """Give the text back."""\n    return text\n'
    )
    text = f"""\
        name: bench-mcp
        tools:
          echo: {{function: tools.py:echo}}
          stdio: {{mcp: {{command: [python, {SERVER}]}}, include: [echo], kind: deterministic}}
          http: {{mcp: {{url: "{url}"}}, include: [echo]}}
        agents:
          a: {{role: A, model: offline, tools: [echo, stdio, http]}}
        tasks: [{{id: t, agent: a, prompt: P}}]
        """
    path = folder / "crew.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@contextlib.contextmanager
def http_server(folder: Path) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (folder / "http.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--http", str(port)], cwd=folder, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


async def measure(path: Path, calls: int, home: Path) -> dict[str, Any]:
    crew = load_crew(path)
    async with open_servers(crew) as servers:
        tools: dict[str, Tool] = {**load_tools(crew), **scrubbed(crew, servers.tools)}
        picked = {
            "function": tools["echo"],
            "stdio": tools["stdio.echo"],
            "http": tools["http.echo"],
        }
        times: dict[str, list[float]] = {name: [] for name in picked}
        for tool in picked.values():  # warm-up: first calls open connections
            await call_cached(tool, ARGS, None)
        for _ in range(calls):
            for name, tool in picked.items():
                done = await call_cached(tool, ARGS, None)
                assert done.result.ok, done.result
                times[name].append(done.result.latency_s)
        with ToolCache(cache_dir(home)) as cache:
            miss = await call_cached(tools["stdio.echo"], ARGS, cache)
            assert miss.status == "miss", miss
            hits = []
            for _ in range(calls):
                hit = await call_cached(tools["stdio.echo"], ARGS, cache)
                assert hit.status == "hit", hit
                hits.append(hit.result.latency_s)
        times["stdio cache hit"] = hits
        return times


def figures(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[max(0, int(0.95 * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    calls = parser.parse_args().calls
    with tempfile.TemporaryDirectory(prefix="mas-bench-mcp-") as tmp:
        folder = Path(tmp)
        with http_server(folder) as url:
            times = asyncio.run(measure(crew_file(folder, url), calls, folder / "home"))
    base, _ = figures(times["function"])
    stdio, _ = figures(times["stdio"])
    print(f"load average {os.getloadavg()[0]:.2f} · {calls} calls each, taken in turns")
    print(f"{'tool':<18}{'median ms':>10}{'p95 ms':>10}  vs")
    for name, values in times.items():
        median, p95 = figures(values)
        if name == "function":
            versus = ""
        elif name.endswith("cache hit"):
            versus = f"{(stdio - median) * 1000:+.2f} ms saved on the stdio call"
        else:
            versus = f"{(median - base) * 1000:+.2f} ms over the function tool"
        print(f"{name:<18}{median * 1000:10.2f}{p95 * 1000:10.2f}  {versus}")


if __name__ == "__main__":
    main()
