"""CPU time (user + sys) and wall time of the read-only commands, this checkout beside another
(`--against`, say a `git archive main` copy), rounds interleaved, stdout to /dev/null (a file:
no terminal). CPU time moves less than wall time when the machine is shared.

Run: python bench/bench_startup_cpu.py --against /tmp/main-copy [--runs 21] [--home-runs 20]
A home of N offline runs of fraud-review is made first, with this checkout.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as c
from bench_startup import make_home


def commands(home: Path, last_log: Path) -> dict[str, list[str]]:
    at = ["--home", str(home)]
    return {
        "python -c pass": ["-c", "pass"],
        "mas runs": ["-m", "mas_cli", "runs", *at],
        "mas show --last": ["-m", "mas_cli", "show", "--last", *at],
        "mas cost-report --last": ["-m", "mas_cli", "cost-report", "--last", *at],
        "mas triage loops (one run)": ["-m", "mas_cli", "triage", "loops", str(last_log)],
        "mas cache stats": ["-m", "mas_cli", "cache", "stats", *at],
    }


def timed(tree: Path, args: list[str]) -> tuple[float, float]:
    """(CPU ms, wall ms) of one process with `tree` first on the path."""
    env = {k: v for k, v in os.environ.items() if k != c.NO_BYTECODE}
    env["PYTHONPATH"] = str(tree)
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    out = subprocess.DEVNULL
    subprocess.run([sys.executable, *args], env=env, cwd=tempfile.gettempdir(), stdout=out,
                   stderr=out, check=False)  # fmt: skip
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return cpu * 1000, wall * 1000


def _median(samples: list[tuple[float, float]], index: int) -> str:
    return f"{statistics.median(s[index] for s in samples):.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", type=Path, required=True, help="the other checkout")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--home-runs", type=int, default=20)
    args = parser.parse_args()
    trees = {"this": c.ROOT, "other": args.against.resolve()}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "xdg")
        rows = commands(home, make_home(home, args.home_runs))
        samples: dict[tuple[str, str], list[tuple[float, float]]] = {
            (name, t): [] for name in rows for t in trees
        }
        for argv in rows.values():  # warm up: .pyc files of both trees
            for tree in trees.values():
                timed(tree, argv)
        for _ in range(args.runs):
            for name, argv in rows.items():
                for t, tree in trees.items():
                    samples[name, t].append(timed(tree, argv))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{args.runs} interleaved runs; this = {trees['this']}, other = {trees['other']}; "
          f"medians; load average at the end {load}")  # fmt: skip
    header = ["command", "CPU ms this", "CPU ms other", "wall ms this", "wall ms other"]
    table = [
        [name, *(_median(samples[name, t], i) for i in (0, 1) for t in trees)] for name in rows
    ]
    print(c.table(header, table))


if __name__ == "__main__":
    main()
