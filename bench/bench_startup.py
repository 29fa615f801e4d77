"""Start-up time: `mas --help`, `mas --version` and `mas validate`, next to `python -c pass`.

Run: python bench/bench_startup.py [--runs N]
Prints the median, min and max wall time of each command over N runs (default 10).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    mas = shutil.which("mas") or str(Path(sys.executable).with_name("mas"))
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "mas --help": [mas, "--help"],
        "mas --version": [mas, "--version"],
        "mas validate (1 crew)": [mas, "validate", "crews/fraud-review/crew.yaml"],
    }
    print(f"{'command':<24} {'median ms':>10} {'min ms':>8} {'max ms':>8}   ({runs} runs)")
    for name, argv in commands.items():
        timed(argv)  # warm the page cache and .pyc files
        samples = [timed(argv) * 1000 for _ in range(runs)]
        median, low, high = statistics.median(samples), min(samples), max(samples)
        print(f"{name:<24} {median:>10.1f} {low:>8.1f} {high:>8.1f}")


if __name__ == "__main__":
    main()
