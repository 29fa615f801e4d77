"""What the timeout guarantees cost: the reaper per command call, RE2 per pattern check, and how
long a stop takes while a tool blocks.

Run: python bench/bench_timeouts.py [--calls N]
Prints
  1. a command tool call's latency (python -c pass) with and without the reaper (Linux);
  2. a benign `pattern` check with RE2 next to jsonschema's own (Python re), and the hostile
     `^(a+)+$` against 48 a's and a `!` with RE2 (Python's re: ~2^48 steps, not measured);
  3. SIGINT to exit of `mas run` while an async function tool sleeps 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jsonschema.validators import validator_for

from mas_cli.spec.loader import load_crew
from mas_cli.spec.patterns import schema_validator
from mas_cli.tools import command, load_tools

CREW = """
name: bench-timeouts
tools:
  noop: {command: [python, -c, pass]}
  nap: {function: tools.py:nap, timeout_s: 120}
agents:
  a: {role: A, model: offline, tools: [TOOL], script: [{tool_calls: [{name: TOOL}]}, {text: done}]}
tasks: [{id: t, agent: a, prompt: Go.}]
"""
NAP = "import time\n\nasync def nap() -> str:\n    time.sleep(60)\n    return 'late'\n"


def _crew(folder: Path, tool: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tools.py").write_text(NAP)
    path = folder / "crew.yaml"
    path.write_text(CREW.replace("TOOL", tool))
    return path


def command_latency(folder: Path, calls: int) -> None:
    tool = load_tools(load_crew(_crew(folder / "noop", "noop")))["noop"]

    def median_ms() -> float:
        times = [asyncio.run(tool.call({})).latency_s for _ in range(calls)]
        return statistics.median(times) * 1000

    with_reaper = median_ms()
    reaper, command.REAPER = command.REAPER, None
    without = median_ms()
    command.REAPER = reaper
    print(
        f"command call (python -c pass), median of {calls}: "
        f"{with_reaper:.1f} ms with the reaper, {without:.1f} ms without"
    )


def pattern_cost(n: int = 20_000) -> None:
    schema: dict[str, Any] = {"type": "string", "pattern": "^[a-z]+-\\d{3}$"}
    ours, theirs = schema_validator(schema), validator_for(schema)(schema)
    for name, validator in (("RE2", ours), ("jsonschema (re)", theirs)):
        started = time.perf_counter()
        for _ in range(n):
            validator.is_valid("tx-123")
        print(f"benign pattern check, {name}: {(time.perf_counter() - started) / n * 1e6:.2f} µs")
    hostile = schema_validator({"type": "string", "pattern": "^(a+)+$"})
    started = time.perf_counter()
    hostile.is_valid("a" * 48 + "!")
    print(f"^(a+)+$ against 48 a's and '!', RE2: {(time.perf_counter() - started) * 1e3:.3f} ms")


def stop_latency(folder: Path) -> None:
    crew = _crew(folder / "nap", "nap")
    env = {**os.environ, "MAS_HOME": str(folder / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mas_cli", "run", str(crew), "-q"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while (
        not list((folder / "home").glob("runs/*/events.jsonl"))
        or '"tool_calls":["nap"]'
        not in next((folder / "home").glob("runs/*/events.jsonl")).read_text()
    ):
        time.sleep(0.02)
    time.sleep(0.5)
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    print(
        f"SIGINT to exit while an async tool sleeps 60 s: {time.perf_counter() - sent:.2f} s "
        f"(exit {proc.returncode})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if command.REAPER:
            command_latency(folder, args.calls)
        pattern_cost()
        stop_latency(folder)


if __name__ == "__main__":
    main()
