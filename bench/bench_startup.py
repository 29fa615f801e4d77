"""Start-up time: `mas --help`, `mas --version`, the read-only commands on a home of 20 runs,
`mas validate` and `mas run --offline`, next to `python -c pass`, `crewai --help` (from the
peers' environment, created on first use) and issue 19's target for each.

Run: python bench/bench_startup.py [--runs N] [--home-runs 20]
A home of N runs of fraud-review is made first (offline; it also fills a temporary price
cache, as a user's first run does). Each command runs once to warm the page cache and .pyc
files, then N rounds run every command once each, interleaved; prints the median, min and
max wall time, the median's ratio to `python -c pass`, and the target.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import _common as c

FRAUD = "crews/fraud-review/crew.yaml"
# issue 19: whole process, medians, this machine (ms)
TARGETS = {
    "mas --help": 120,
    "mas --version": 50,
    "mas runs": 150,
    "mas show --last": 150,
    "mas cost-report --last": 150,
    "mas triage loops (one run)": 150,
    "mas cache stats": 150,
    f"mas validate {FRAUD}": 150,
    f"mas run {FRAUD} --offline": 400,
}


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    c.run(argv, c.mas_env() if "crewai" not in argv[0] else c.peer_env())
    return time.perf_counter() - start


def make_home(home: Path, runs: int) -> Path:
    """A home of `runs` offline runs of fraud-review; the events.jsonl of the last one."""
    mas = str(Path(sys.executable).with_name("mas"))
    for _ in range(runs):
        c.run([mas, "run", FRAUD, "--offline", "--quiet", "--home", str(home)], c.mas_env())
    return max(home.glob("runs/*/events.jsonl"), key=os.path.getmtime)


def commands(home: Path, last_log: Path, scratch: Path) -> tuple[dict[str, list[str]], list[str]]:
    """The commands to time, and the rows skipped (saying why)."""
    mas = str(Path(sys.executable).with_name("mas"))
    at = ["--home", str(home)]
    rows = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "mas --help": [mas, "--help"],
        "mas --version": [mas, "--version"],
        "mas runs": [mas, "runs", *at],
        "mas show --last": [mas, "show", "--last", *at],
        "mas cost-report --last": [mas, "cost-report", "--last", *at],
        "mas triage loops (one run)": [mas, "triage", "loops", str(last_log)],
        "mas cache stats": [mas, "cache", "stats", *at],
        f"mas validate {FRAUD}": [mas, "validate", FRAUD],
        f"mas run {FRAUD} --offline": [mas, "run", FRAUD, "--offline", "--quiet", "--home",
                                       str(scratch)],
    }  # fmt: skip
    python, why = c.peers_python()
    if python is None:
        return rows, [f"crewai --help: {why}"]
    rows["crewai --help (peers venv)"] = [str(python.with_name("crewai")), "--help"]
    return rows, []


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--home-runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home, scratch = Path(tmp) / "home", Path(tmp) / "scratch"
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "xdg")  # a price cache of its own
        rows, skipped = commands(home, make_home(home, args.home_runs), scratch)
        samples = measure(rows, args.runs)
    report(samples, args.runs, args.home_runs, skipped)


def measure(rows: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in rows}
    for argv in rows.values():
        timed(argv)  # warm up
    for _ in range(runs):
        for name, argv in rows.items():
            samples[name].append(timed(argv) * 1000)
    return samples


def report(samples: dict[str, list[float]], runs: int, home_runs: int, skipped: list[str]) -> None:
    python = c.median(samples["python -c pass"])
    table = []
    for name, s in samples.items():
        target = TARGETS.get(name)
        verdict = (
            ""
            if target is None
            else f"<= {target}: {'met' if c.median(s) <= target else 'NOT met'}"
        )
        table.append([
            name, f"{c.median(s):.0f}", f"{min(s):.0f}", f"{max(s):.0f}",
            f"{c.median(s) / python:.1f}x", verdict,
        ])  # fmt: skip
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Start-up, wall time of the whole process; {runs} interleaved runs; "
          f"a home of {home_runs} runs; load average at the end {load}")  # fmt: skip
    header = ["command", "median ms", "min ms", "max ms", "vs python -c pass", "target ms"]
    print(c.table(header, table))
    for name, s in samples.items():
        if (target := TARGETS.get(name)) is not None:
            verdict = "met" if c.median(s) <= target else "NOT met"
            print(f"target (issue 19): {name} {c.median(s):.0f} ms, target <= {target} ms: {verdict} "
                  f"(reference: python -c pass {python:.0f} ms; this {c.median(s) / python:.1f}x)")  # fmt: skip
    print(
        "As installed: .pyc files written by each command's warm-up run; the price cache "
        "(~/.cache/mas, here a temporary one) filled by the runs that made the home."
    )
    for line in skipped:
        print(line)


if __name__ == "__main__":
    main()
