"""MCP: the CPU a big reply from a stdio server costs the mas process.

Run: python bench/bench_mcp_reply.py [MB ...]   (default: 5 20 50)
Starts tests/mcp_raw.py (`big`) and makes one call per size, answered with that many
megabytes of text; prints the mas process's CPU time (user+sys, time.process_time) and the
wall time of the call. The SDK's reader once joined every 64 KB chunk to the line it held
(quadratic: 20 MB cost 4.4 s of CPU); mas_cli/tools/mcp/lines.py gives it whole lines.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from mas_cli.tools.mcp.connection import Connection, Launch

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "tests" / "mcp_raw.py"


async def one(mb: float) -> tuple[float, float]:
    argv = (sys.executable, str(RAW), "big")
    connection = Connection(Launch("raw", 30, argv, ROOT, {"PATH": os.environ["PATH"]}))
    await connection.start()
    try:
        cpu, wall = time.process_time(), time.monotonic()
        await connection.call("good", {"mb": mb})
        return time.process_time() - cpu, time.monotonic() - wall
    finally:
        await connection.close()


def main() -> None:
    sizes = [float(a) for a in sys.argv[1:]] or [5.0, 20.0, 50.0]
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'reply MB':>9} {'CPU s':>7} {'wall s':>7}")
    for mb in sizes:
        cpu, wall = asyncio.run(one(mb))
        print(f"{mb:>9g} {cpu:>7.2f} {wall:>7.2f}")


if __name__ == "__main__":
    main()
