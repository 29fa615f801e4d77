"""MCP: the CPU a big reply from a stdio server costs the mas process.

Run: python bench/bench_mcp_reply.py [MB ...]   (default: 5 20 50)
Starts tests/mcp_raw.py (`big`) and makes one call per size, answered with that many
megabytes of text; prints the mas process's CPU time (user+sys, time.process_time) and the
wall time of the call. The SDK's reader once joined every 64 KB chunk to the line it held
(quadratic: 20 MB cost 4.4 s of CPU); mas_cli/tools/mcp/lines.py gives it whole lines.

Run: python bench/bench_mcp_reply.py --endless MB
One call answered with MB megabytes and no newline (`endless`): prints how much the mas
process's peak resident set (VmHWM) grew, its CPU time and the wall time until the call
failed (30 s at most: the call's timeout). A line is held only up to its limit (64 MiB),
so the growth stays near that.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

from mas_cli.tools.mcp.connection import Connection, Launch, ServerGone

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "tests" / "mcp_raw.py"


async def one(mb: float, mode: str = "big") -> tuple[float, float]:
    argv = (sys.executable, str(RAW), mode)
    connection = Connection(Launch("raw", 30, argv, ROOT, {"PATH": os.environ["PATH"]}))
    await connection.start()
    try:
        cpu, wall = time.process_time(), time.monotonic()
        with contextlib.suppress(ServerGone, TimeoutError):  # before the line limit: timed out
            await asyncio.wait_for(connection.call("good", {"mb": mb}), 30)
        return time.process_time() - cpu, time.monotonic() - wall
    finally:
        await connection.close()


def peak_mb() -> float:
    """VmHWM: the highest resident set of this process so far, in MB."""
    with Path("/proc/self/status").open() as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def endless(mb: float) -> None:
    asyncio.run(one(0.1))  # the SDK loaded and a server started once: not counted
    before = peak_mb()
    cpu, wall = asyncio.run(one(mb, "endless"))
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"{mb:g} MB with no newline: peak RSS grew {peak_mb() - before:.0f} MB")
    print(f"CPU {cpu:.2f} s, wall {wall:.2f} s until the call failed")


def main() -> None:
    if sys.argv[1:2] == ["--endless"]:
        endless(float(sys.argv[2]))
        return
    sizes = [float(a) for a in sys.argv[1:]] or [5.0, 20.0, 50.0]
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'reply MB':>9} {'CPU s':>7} {'wall s':>7}")
    for mb in sizes:
        cpu, wall = asyncio.run(one(mb))
        print(f"{mb:>9g} {cpu:>7.2f} {wall:>7.2f}")


if __name__ == "__main__":
    main()
