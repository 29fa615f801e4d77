"""Start-up of this checkout against another commit, side by side: CPU and wall time.

Run: python bench/compare_startup.py [--ref main] [--runs 5] [--home-runs 20] [COMMAND ...]

The other commit is exported with `git archive` into a temporary folder (no worktree), and both
run with this environment's Python and packages, each on its own `mas_cli` (PYTHONPATH), each
with its `.pyc` files written by a warm-up run. Rounds interleave the two, one command at a
time; prints the median CPU time (user + system of the process and its children, which load
inflates far less than wall time) and the median wall time of each. Commands are the rows of
bench_startup.py; name some to run only those (`runs`, `--help`, ...).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import _common as c

FRAUD = c.ROOT / "crews" / "fraud-review" / "crew.yaml"
ENTRY = (
    "import sys; from mas_cli.cli import main; sys.argv = ['mas', *sys.argv[1:]]; "
    "raise SystemExit(main())"
)


def commands(home: Path, log: Path, scratch: Path) -> dict[str, list[str] | None]:
    at = ["--home", str(home)]
    return {
        "python -c pass": None,
        "--help": ["--help"],
        "--version": ["--version"],
        "runs": ["runs", *at],
        "show --last": ["show", "--last", *at],
        "cost-report --last": ["cost-report", "--last", *at],
        "triage loops (one run)": ["triage", "loops", str(log)],
        "cache stats": ["cache", "stats", *at],
        "validate fraud-review": ["validate", str(FRAUD)],
        "run fraud-review --offline": [
            "run", str(FRAUD), "--offline", "--quiet", "--home", str(scratch),
        ],
    }  # fmt: skip


def export(ref: str, into: Path) -> None:
    """The tree of `ref`, written under `into`."""
    data = subprocess.run(
        ["git", "archive", ref], cwd=c.ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")


def once(argv: list[str] | None, code: Path, cwd: Path) -> tuple[float, float]:
    """CPU and wall milliseconds of one process running `mas ARGV` from `code`."""
    env = {**c.mas_env(), "PYTHONPATH": str(code)}
    full = [sys.executable, "-c", "pass"] if argv is None else [sys.executable, "-c", ENTRY, *argv]
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(full, env=env, cwd=cwd, capture_output=True, check=False)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return cpu * 1000, wall * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ref", default="main")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--home-runs", type=int, default=20)
    parser.add_argument("only", nargs="*", help="rows to run (default: all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base, home = Path(tmp) / "base", Path(tmp) / "home"
        export(args.ref, base)
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "xdg")
        for _ in range(args.home_runs):
            once(["run", str(FRAUD), "--offline", "--quiet", "--home", str(home)], c.ROOT, c.ROOT)
        log = max(home.glob("runs/*/events.jsonl"), key=os.path.getmtime)
        rows = commands(home, log, Path(tmp) / "scratch")
        print(f"{args.ref} -> this checkout; {args.runs} interleaved pairs; "
              f"load average at the start {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
        table = [
            measure(name, argv, (base, c.ROOT), Path(tmp), args.runs)
            for name, argv in rows.items()
            if not args.only or name in args.only
        ]
    header = ["command", "CPU ms ref", "CPU ms this", "wall ms ref", "wall ms this"]
    print(c.table(header, table))
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def measure(
    name: str, argv: list[str] | None, code: tuple[Path, Path], cwd: Path, runs: int
) -> list[object]:
    samples: dict[Path, list[tuple[float, float]]] = {path: [] for path in code}
    for path in code:
        once(argv, path, cwd)  # warm-up: writes the .pyc files
    for _ in range(runs):
        for path in code:
            samples[path].append(once(argv, path, cwd))
    cpu = [c.median([s[0] for s in samples[path]]) for path in code]
    wall = [c.median([s[1] for s in samples[path]]) for path in code]
    return [name, f"{cpu[0]:.0f}", f"{cpu[1]:.0f}", f"{wall[0]:.0f}", f"{wall[1]:.0f}"]


if __name__ == "__main__":
    main()
