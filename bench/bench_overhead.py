"""Orchestration overhead per model call, on the offline provider.

Run: python bench/bench_overhead.py [--calls 1000] [--runs 5]

Generates a parallel crew whose agents each call a tool once and then answer (two model calls
per task), runs it with `mas run` in a fresh home, and reports:
  - wall time of the whole process minus Python's own start (`python -c pass`), per model call;
  - the in-process time of run_crew alone, per model call (no interpreter or import cost).
The offline model answers instantly (its tool runs in a worker thread), so what is left is mas itself: guards, token counting,
events written and flushed, tool calls, scheduling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CREW_HEAD = """name: overhead
process: parallel
limits: {{max_llm_calls: {calls}, max_tool_calls: {calls}, max_tokens: 100000000, max_cost_usd: 1000, run_timeout_s: 3600, max_concurrency: 4}}
tools:
  lookup: {{function: tools.py:lookup, kind: deterministic}}
agents:
  worker: {{role: Worker, goal: Look things up, model: "openai:gpt-4o-mini", tools: [lookup]}}
tasks:
"""
TOOLS = 'def lookup(item_id: str) -> dict:\n    """Look up an item."""\n    return {"item_id": item_id, "ok": True}\n'


def write_crew(folder: Path, calls: int) -> Path:
    tasks = "".join(
        f"  - {{id: t{i}, agent: worker, prompt: 'Look up item i-{i}.'}}\n"
        for i in range(calls // 2)
    )
    (folder / "tools.py").write_text(TOOLS)
    path = folder / "crew.yaml"
    path.write_text(CREW_HEAD.format(calls=calls) + tasks)
    return path


def timed(argv: list[str]) -> float:
    """Wall time of a command, which must succeed: a failing run would time its error path."""
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def tokenizer_load() -> float:
    """The one-time cost of loading the BPE tables, paid by the first count in a process."""
    from mas_cli.cost.tokens import count_text

    start = time.perf_counter()
    count_text("warm up", "gpt-4o-mini")
    return time.perf_counter() - start


def in_process(crew: Path, home: Path) -> tuple[float, int]:
    """run_crew alone, with the tokenizer already loaded."""
    from mas_cli.engine.run import RunOptions, run_crew
    from mas_cli.spec.loader import load_crew

    loaded = load_crew(crew)
    start = time.perf_counter()
    result = asyncio.run(run_crew(loaded, RunOptions(home=home, offline=True)))
    elapsed = time.perf_counter() - start
    finished = json.loads((Path(result.run_dir) / "events.jsonl").read_text().splitlines()[-1])
    return elapsed, int(finished["llm_calls"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        crew = write_crew(folder, args.calls)
        python = statistics.median(timed([sys.executable, "-c", "pass"]) for _ in range(args.runs))
        mas = [
            sys.executable,
            "-m",
            "mas_cli",
            "run",
            str(crew),
            "--offline",
            "-q",
            "--home",
            str(folder / "home"),
        ]
        whole = statistics.median(timed(mas) for _ in range(args.runs))
        load = tokenizer_load()
        inner = [in_process(crew, folder / "home") for _ in range(args.runs)]
    calls = inner[0][1]
    core = statistics.median(t for t, _ in inner)
    print(f"model calls per run:            {calls}  (offline provider, {args.runs} runs, medians)")
    print(f"python -c pass:                 {python * 1000:8.1f} ms")
    print(f"mas run, whole process:         {whole * 1000:8.1f} ms")
    print(
        f"overhead per call (process):    {(whole - python) / calls * 1000:8.3f} ms   (wall - python start) / calls"
    )
    print(
        f"overhead per call (run_crew):   {core / calls * 1000:8.3f} ms   in-process run_crew / calls, tokenizer warm"
    )
    print(
        f"tokenizer load, once a process: {load * 1000:8.1f} ms   (included in the process figure)"
    )


if __name__ == "__main__":
    main()
