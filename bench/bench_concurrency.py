"""Concurrency: 20 independent tasks (process: parallel) against a server that takes 200 ms per
request, at several max_concurrency settings, next to the ideal wall time.

Run: python bench/bench_concurrency.py [--tasks 20] [--delay 0.2] [--concurrency 1 4 20] [--runs 3]

Each task is one model call (the agent has no tools), so the ideal for max_concurrency c is
ceil(tasks / c) x delay. The run's time is run_finished's duration (no start-up); the process
figure is the whole `mas run`. Medians over the runs, the settings interleaved.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import _common as c


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds per request")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 20])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs: dict[int, list[tuple[float, float]]] = defaultdict(list)
    with c.AgentServer(delay_s=args.delay) as server, tempfile.TemporaryDirectory() as tmp:
        for number in range(args.runs):
            print(f"round {number + 1}/{args.runs} ...", file=sys.stderr)
            for limit in args.concurrency:
                folder = Path(tmp) / f"{number}-{limit}"
                crew = c.mas_crew(
                    folder, server.base_url, args.tasks, tools=False, concurrency=limit
                )
                server.reset()
                runs[limit].append(c.run_mas(crew, folder / "home"))
                assert server.requests == args.tasks, server.requests
    rows = []
    for limit in args.concurrency:
        ideal = math.ceil(args.tasks / limit) * args.delay
        run_s = c.median([r for _, r in runs[limit]])
        process_s = c.median([p for p, _ in runs[limit]])
        rows.append([
            limit, f"{ideal:.2f}", f"{run_s:.3f}", f"{run_s / ideal:.3f}x",
            f"{(run_s - ideal) * 1000:.0f}", f"{process_s:.2f}",
        ])  # fmt: skip
    print(
        f"Concurrency: {args.tasks} independent tasks, {args.delay * 1000:.0f} ms per request; "
        f"medians of {args.runs} runs"
    )
    print(
        c.table(
            ["max_concurrency", "ideal s", "run s", "run / ideal", "over ideal ms", "process s"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
