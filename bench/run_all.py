"""Run every benchmark (or some), print their tables, and write bench/RESULTS.md.

Run: python bench/run_all.py [--only NAME ...] [--quick] [--results PATH]

Each benchmark runs as its own process (`python bench/bench_NAME.py ARGS`) and stays runnable
alone. A full run of all of them writes bench/RESULTS.md: the date, the machine, the command,
the commit, and each benchmark's table. `--only` and `--quick` print without writing unless
`--results` names a file. A "Targets" section comes first: every line a benchmark printed
starting with "target", each with its reference and whether it is met. The notes at the end
of RESULTS.md, under NOTES_MARK, are written by hand and kept from one run to the next.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import _common as c

RESULTS = c.BENCH / "RESULTS.md"
NOTES_MARK = "<!-- notes: written by hand, kept by run_all.py -->"
# name -> (title, full arguments, --quick arguments)
BENCHES = {
    "startup": ("1. Start-up", [], ["--runs", "3"]),
    "overhead": (
        "2. Orchestration overhead per model call",
        [],
        ["--calls", "200", "--crewai-calls", "40", "--runs", "1"],
    ),
    "concurrency": ("3. Concurrency", [], ["--runs", "1"]),
    "triage": ("4. Triage", [], ["--mb", "64", "--repeat", "1"]),
    "cache": ("5. Cache", [], ["--hits", "100"]),
    "tokens": ("6. Tokens", [], ["--mb", "1", "--runs", "1"]),
    "formats": ("7. Triage of other formats", [], ["--mb", "5"]),
    "export": (
        "8. OpenTelemetry export",
        [],
        ["--calls", "1000", "--tasks", "50", "--runs", "1", "--no-phoenix"],
    ),
    "view": ("9. View", [], ["--calls", "1000", "--runs", "1"]),
    "mcp": ("10. MCP tools", [], ["--calls", "100"]),
    "batch": (
        "11. Batches",
        ["--items", "4000", "--server-items", "1000"],
        ["--items", "200", "--server-items", "100"],
    ),
    "temporal": ("12. Scale-out on Temporal", [], ["--items", "40"]),
    "request_cpu": ("13. CPU per model request", [], ["--tasks", "200", "--rounds", "1"]),
}


def run_bench(name: str, quick: bool) -> tuple[str, float]:
    """One benchmark's stdout (or why there is none), and its wall seconds."""
    script = c.BENCH / f"bench_{name}.py"
    if not script.exists():
        return f"skipped: {script.relative_to(c.ROOT)} is not in this checkout yet.", 0.0
    _, full, quick_args = BENCHES[name]
    argv = [sys.executable, str(script), *(quick_args if quick else full)]
    print(f"== {' '.join(argv[1:])}", file=sys.stderr)
    start = time.perf_counter()
    done = subprocess.run(
        argv, cwd=c.ROOT, env=c.mas_env(), stdout=subprocess.PIPE, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        return (
            f"{done.stdout}\nfailed: exit {done.returncode} (its stderr is above the table)",
            seconds,
        )
    return done.stdout.rstrip(), seconds


def header(command: str, seconds: float) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=c.ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return "\n".join([
        "# Benchmark results",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {c.machine()}",
        f"- command: `{command}` (from the repository root; {seconds / 60:.0f} minutes)",
        f"- commit: {commit or 'unknown'}",
        "- the machine is shared and noisy: read the ratios measured side by side in one run, "
        "not the absolute times alone. Each benchmark runs alone with `python bench/bench_NAME.py`.",
    ])  # fmt: skip


def targets(outputs: list[str]) -> str:
    """Every target line the benchmarks printed (each names its reference and says whether it
    is met), gathered in one section."""
    lines = [line for out in outputs for line in out.splitlines() if line.startswith("target")]
    met = sum(1 for line in lines if not re.search(r"NOT met", line))
    body = "\n".join(f"- {line}" for line in lines) or "- (no benchmark with targets ran)"
    return f"## Targets: {met} of {len(lines)} met\n\n{body}"


def kept_notes(path: Path) -> str:
    if path.exists() and NOTES_MARK in (text := path.read_text(encoding="utf-8")):
        return text[text.index(NOTES_MARK) :]
    return f"{NOTES_MARK}\n## Notes\n\n(none yet)\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", choices=list(BENCHES), metavar="NAME",
                        help=f"some of: {', '.join(BENCHES)}")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="small sizes and few runs")
    parser.add_argument("--results", type=Path, help="where to write the results (Markdown)")
    args = parser.parse_args()
    names = args.only or list(BENCHES)
    results = args.results or (None if args.only or args.quick else RESULTS)
    start = time.perf_counter()
    sections, outputs = [], []
    for name in names:
        output, seconds = run_bench(name, args.quick)
        title = f"## {BENCHES[name][0]} ({seconds:.0f} s)"
        print(f"\n{title}\n\n{output}", flush=True)
        sections.append(f"{title}\n\n```text\n{output}\n```\n")
        outputs.append(output)
    summary = targets(outputs)
    print(f"\n{summary}", flush=True)
    sections.insert(0, f"{summary}\n")
    if results:
        command = " ".join(["python", "bench/run_all.py", *sys.argv[1:]])
        body = [header(command, time.perf_counter() - start), "", *sections, kept_notes(results)]
        results.write_text("\n".join(body), encoding="utf-8")
        print(f"\nwrote {results}", file=sys.stderr)


if __name__ == "__main__":
    main()
