"""Runs of blank lines: what the readers spend on a log cut in two by N MB of newlines.

Run: python bench/bench_blank_lines.py [--mb 64]
A run of fraud-review (offline) is cut after its eighth line by N MB of newlines and one bad
line, written plain and gzipped (64 MB of newlines gzip to 65 KB: a decompression bomb for CPU
if each blank line costs a Python step). Each reader runs once per file as its own process;
prints the wall time, the CPU time (user + system, of the process and its children) and the
line the bad one was named at, which must be its true number.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READERS = (["triage", "loops"], ["cost-report"], ["show"])


def _run_log(home: Path) -> list[bytes]:
    crew = ROOT / "crews" / "fraud-review" / "crew.yaml"
    argv = [sys.executable, "-m", "mas_cli", "run", str(crew), "--offline", "--home", str(home)]
    subprocess.run([*argv, "-q"], check=True, capture_output=True, env=_env())
    (log,) = (home / "runs").glob("*/events.jsonl")
    return log.read_bytes().splitlines(keepends=True)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _write(path: Path, lines: list[bytes], mb: int) -> None:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as out:  # type: ignore[operator]
        out.writelines(lines[:8])
        for _ in range(mb):
            out.write(b"\n" * (1 << 20))
        out.write(b"{not json\n")
        out.writelines(lines[8:])


def _measure(argv: list[str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, check=False, capture_output=True, text=True, env=_env())
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    named = re.search(r"\.(?:jsonl|gz):(\d+): ", done.stdout + done.stderr)
    return wall, cpu, f"{int(named[1]):,}" if named else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=64, help="MB of newlines (default 64)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lines = _run_log(Path(tmp) / "home")
        print(f"{args.mb} MB of newlines; the bad line is line {8 + (args.mb << 20) + 1:,}")
        for name in ("blank.jsonl", "blank.jsonl.gz"):
            path = Path(tmp) / name
            _write(path, lines, args.mb)
            size = path.stat().st_size
            for reader in READERS:
                wall, cpu, line = _measure([sys.executable, "-m", "mas_cli", *reader, str(path)])
                command = f"mas {' '.join(reader)} {name} ({size / 1e6:,.2f} MB)"
                print(f"{command:<46} {wall:7.2f} s wall {cpu:7.2f} s CPU  named at {line}")


if __name__ == "__main__":
    main()
