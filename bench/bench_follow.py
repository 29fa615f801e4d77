"""`mas triage loops --follow`: how long from the line that makes a finding to the finding.

Run: `python bench/bench_follow.py [--rounds 20] [--background 2000]`. One `mas triage loops
LOG --follow --json` follows a file. Each round appends a healthy run of `--background` lines
(load for the reader), then a run that calls one tool with the same arguments: the third such
call is the line that makes a `repeated_calls` finding. The time from that line's write (and
flush) to the finding's line on the follower's stdout is one sample; the script prints the
median and the worst.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def event(trace: str, n: int, kind: str, **fields: Any) -> str:
    head = {"v": 1, "ts": f"2026-11-21T02:00:{n % 60:02d}Z", "run_id": trace, "trace_id": trace}
    return json.dumps({**head, "span_id": f"{n:x}", "type": kind, **fields}) + "\n"


def tool(trace: str, n: int, args: str) -> str:
    fields = {"agent": "scorer", "task": "score", "tool": "search", "args_digest": args}
    return event(trace, n, "tool_call", **fields, status="ok", result_digest=f"r{n}")


def healthy(trace: str, lines: int) -> str:
    body = [tool(trace, n, f"a{n}") for n in range(lines)]
    return event(trace, 0, "run_started") + "".join(body) + event(trace, 0, "run_finished")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--background", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "events.jsonl"
        log.touch()
        mas = [sys.executable, "-m", "mas_cli", "triage", "loops", str(log), "--follow", "--json"]
        proc = subprocess.Popen(mas, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        waits = []
        with log.open("a") as handle:
            for r in range(args.rounds + 1):  # round 0 waits for start-up: not counted
                handle.write(healthy(f"h{r}", args.background))
                handle.write(event(f"l{r}", 0, "run_started"))
                handle.write(tool(f"l{r}", 1, "same") + tool(f"l{r}", 2, "same"))
                handle.flush()
                handle.write(tool(f"l{r}", 3, "same"))
                handle.flush()
                wrote = time.perf_counter()
                found = json.loads(proc.stdout.readline())
                waits.append(time.perf_counter() - wrote)
                assert found["detector"] == "repeated_calls", found
        waits = waits[1:]
        proc.terminate()
        proc.wait()
    print(
        f"finding after its line: median {statistics.median(waits):.3f} s, worst {max(waits):.3f} s"
    )
    print(f"({args.rounds} rounds, {args.background:,} healthy lines written before each loop)")


if __name__ == "__main__":
    main()
