"""CPU per model request (user+system of the client process), mas against the raw openai SDK,
on an instant local server: steadier than wall time on a shared machine.

Run: python bench/bench_request_cpu.py [--tasks 1000] [--rounds 3] [--other PATH]

Each client runs the `many` workload of bench_overhead.py (one task = a request offering a
tool, the tool, a request with its result) twice, with 10 tasks and with --tasks tasks; the
difference of the two processes' CPU over the difference of requests is the CPU per request,
start-up and set-up left out. --other names another checkout's root (e.g. main's) to measure
side by side; rounds are interleaved; medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import _common as c

SMALL = 10


def cpu_s(argv: list[str], env: dict[str, str]) -> float:
    """The process's user+system CPU seconds (its children's included)."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(
            f"{argv[:4]} failed: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
        )
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--other", type=Path, help="another checkout's root, measured alongside")
    args = parser.parse_args()
    roots = {"mas (this checkout)": c.ROOT}
    if args.other:
        roots[f"mas ({args.other})"] = args.other.resolve()
    samples: dict[tuple[str, int], list[float]] = {}
    key_env = {"OPENAI_API_KEY": "sk-bench-0000000000"}
    with c.AgentServer() as server, tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.rounds):
            for tasks in (SMALL, args.tasks):
                crew = c.mas_crew(Path(tmp) / f"crew-{rnd}-{tasks}", server.base_url, tasks, 1)
                for name, root in roots.items():
                    env = {**os.environ, **key_env, "PYTHONPATH": str(root)}
                    home = Path(tmp) / f"home-{len(samples)}-{rnd}"
                    argv = [sys.executable, "-m", "mas_cli", "run", str(crew), "--quiet"]
                    samples.setdefault((name, tasks), []).append(
                        cpu_s([*argv, "--home", str(home)], env)
                    )
                raw = [sys.executable, str(c.BENCH / "peers" / "raw_openai.py")]
                raw += ["--base-url", server.base_url, "--tasks", str(tasks), "--agents", "1"]
                samples.setdefault(("raw openai SDK", tasks), []).append(
                    cpu_s(raw, dict(os.environ))
                )
    requests = 2 * (args.tasks - SMALL)
    per = {
        name: (
            statistics.median(samples[(name, args.tasks)])
            - statistics.median(samples[(name, SMALL)])
        )
        / requests
        * 1000
        for name in [*roots, "raw openai SDK"]
    }
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"CPU per request, instant local server; medians of {args.rounds}; load at the end {load}"
    )
    print("| client | CPU ms/request | vs raw SDK |")
    print("|---|---|---|")
    for name, ms in per.items():
        print(f"| {name} | {ms:.2f} | {ms / per['raw openai SDK']:.2f}x |")
    print(
        f"CPU ms/request = (CPU of {args.tasks} tasks - CPU of {SMALL} tasks) / {requests} requests"
    )


if __name__ == "__main__":
    main()
