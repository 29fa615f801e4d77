"""Concurrency: 20 independent tasks (process: parallel) against a server that takes 200 ms per
request, at several max_concurrency settings, next to the ideal wall time.

Run: python bench/bench_concurrency.py [--tasks 20] [--delay 0.2] [--concurrency 1 4 20] [--runs 3]

Each task is one model call (the agent has no tools), so the ideal for max_concurrency c is
ceil(tasks / c) x delay. The run's time is run_finished's duration (no start-up); the process
figure is the whole `mas run`. Medians over the runs, the settings interleaved.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import _common as c


class Sample(NamedTuple):
    process_s: float
    run_s: float
    from_first_s: float  # from the first request the server received to the run's end


def sample(server: c.AgentServer, folder: Path, tasks: int, limit: int) -> Sample:
    crew = c.mas_crew(folder, server.base_url, tasks, tools=False, concurrency=limit)
    server.reset()
    process_s, finished = c.run_mas(crew, folder / "home")
    assert server.requests == tasks, server.requests
    assert server.first_at is not None
    return Sample(process_s, finished["duration_s"], c.finished_at(finished) - server.first_at)


def raw_sdk(server: c.AgentServer, tasks: int) -> float:
    """The raw openai SDK sending every request at once (bench/peers/raw_openai_parallel.py),
    in this interpreter: seconds from the first request to the last answer."""
    script = Path(__file__).with_name("peers") / "raw_openai_parallel.py"
    server.reset()
    cmd = [sys.executable, str(script), "--base-url", server.base_url, "--tasks", str(tasks)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120)
    assert server.requests == tasks, server.requests
    return float(json.loads(out.stdout.splitlines()[-1])["run_s"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds per request")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 20])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs: dict[int, list[Sample]] = defaultdict(list)
    raw: list[float] = []
    with c.AgentServer(delay_s=args.delay) as server, tempfile.TemporaryDirectory() as tmp:
        for number in range(args.runs):
            print(f"round {number + 1}/{args.runs} ...", file=sys.stderr)
            for limit in args.concurrency:
                folder = Path(tmp) / f"{number}-{limit}"
                runs[limit].append(sample(server, folder, args.tasks, limit))
            raw.append(raw_sdk(server, args.tasks))
    rows = []
    for limit in args.concurrency:
        ideal = math.ceil(args.tasks / limit) * args.delay
        run_s = c.median([s.run_s for s in runs[limit]])
        first_s = c.median([s.from_first_s for s in runs[limit]])
        rows.append([
            limit, f"{ideal:.2f}", f"{run_s:.3f}", f"{run_s / ideal:.2f}x",
            f"{first_s:.3f}", f"{first_s / ideal:.2f}x",
            f"{c.median([s.process_s for s in runs[limit]]):.2f}",
        ])  # fmt: skip
    print(
        f"Concurrency: {args.tasks} independent tasks, {args.delay * 1000:.0f} ms per request; "
        f"medians of {args.runs} runs"
    )
    header = ["max_concurrency", "ideal s", "run s", "run / ideal"]
    header += ["first request to end s", "that / ideal", "process s"]
    print(c.table(header, rows))
    widest = max(args.concurrency)
    ratio = c.median([s.run_s for s in runs[widest]]) / (
        math.ceil(args.tasks / widest) * args.delay
    )
    print(
        f"target (issue 19): {args.tasks} tasks at max_concurrency {widest}, run / ideal "
        f"{ratio:.2f} (<= 1.2: {'met' if ratio <= 1.2 else 'NOT met'})"
    )
    floor = c.median(raw)
    ideal_all = args.delay
    print(
        f"reference: the raw openai SDK (AsyncOpenAI, asyncio.gather of {args.tasks} requests, "
        f"client made before the clock): {floor:.3f} s, {floor / ideal_all:.2f}x the ideal "
        f"(median of {args.runs}); mas at max_concurrency {widest} is {ratio * ideal_all / floor:.2f}x that"
    )
    print(
        "run s: run_finished's duration, counted from run start. These runs build no "
        f"tokenizer (it would take {c.tokenizer_load_s() * 1000:.0f} ms, median of 3 processes): "
        "sizes alone settle their budget checks. 'first request to end' leaves out what comes "
        "before the first request."
    )


if __name__ == "__main__":
    main()
