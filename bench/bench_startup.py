"""Start-up time: `mas --help`, `mas --version` and `mas validate`, next to `python -c pass` and
`crewai --help` (from the peers' environment, created on first use).

Run: python bench/bench_startup.py [--runs N]
Each command runs once to warm the page cache and .pyc files, then N rounds run every command
once each, interleaved; prints the median, min and max wall time and the median's ratio to
`python -c pass`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import _common as c


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    c.run(argv, c.mas_env() if "crewai" not in argv[0] else c.peer_env())
    return time.perf_counter() - start


def commands() -> tuple[dict[str, list[str]], list[str]]:
    """The commands to time, and the rows skipped (saying why)."""
    mas = str(Path(sys.executable).with_name("mas"))
    rows = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "mas --help": [mas, "--help"],
        "mas --version": [mas, "--version"],
        "mas validate crews/fraud-review": [mas, "validate", "crews/fraud-review/crew.yaml"],
    }
    python, why = c.peers_python()
    if python is None:
        return rows, [f"crewai --help: {why}"]
    rows["crewai --help (peers venv)"] = [str(python.with_name("crewai")), "--help"]
    return rows, []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    rows, skipped = commands()
    samples: dict[str, list[float]] = {name: [] for name in rows}
    for argv in rows.values():
        timed(argv)  # warm up
    for _ in range(runs):
        for name, argv in rows.items():
            samples[name].append(timed(argv) * 1000)
    python = c.median(samples["python -c pass"])
    table = [
        [
            name,
            f"{c.median(s):.0f}",
            f"{min(s):.0f}",
            f"{max(s):.0f}",
            f"{c.median(s) / python:.1f}x",
        ]
        for name, s in samples.items()
    ]
    print(f"Start-up, wall time of the whole process; {runs} interleaved runs")
    print(c.table(["command", "median ms", "min ms", "max ms", "vs python -c pass"], table))
    for line in skipped:
        print(line)


if __name__ == "__main__":
    main()
