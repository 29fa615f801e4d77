"""Orchestration overhead per model call, against a local OpenAI-compatible server that answers
instantly, next to the raw openai SDK (the floor), LangGraph and CrewAI doing the same work.

Run: python bench/bench_overhead.py [--calls 1000] [--crewai-calls 200] [--runs 5]

Two workloads, each framework in its own process, the rounds interleaved so that the machine's
noise falls on all of them alike:
  - crew: 3 agents, 3 sequential tasks, one tool each (6 model calls, 3 tool calls);
  - many: one agent, --calls / 2 tasks of one tool call and one answer each (CrewAI makes
    --crewai-calls, being slow; figures are per request).
mas also runs the same crews --offline (no HTTP, no server): its own cost per model call, and
the figure issue 3 asks for, (whole process - python -c pass) / calls.
The server calls the first tool offered once per user turn, then answers. Figures are medians:
  - process: the whole process, start-up and imports included;
  - per request: (time in the run - server time) / requests, where the time in the run excludes
    start-up, imports and set-up (mas: run_finished's duration; peers: their own timer).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any, NamedTuple

import _common as c

PEERS_DIR = c.BENCH / "peers"


class Sample(NamedTuple):
    process_s: float
    run_s: float
    requests: int
    server_s: float
    steady_s: float  # from the first request the server received to the end of the work

    @property
    def per_request_ms(self) -> float:
        return (self.run_s - self.server_s) / self.requests * 1000

    @property
    def steady_ms(self) -> float:
        return (self.steady_s - self.server_s) / self.requests * 1000


def mas_sample(server: c.AgentServer, tasks: int, agents: int, tmp: Path, *options: str) -> Sample:
    folder = Path(tempfile.mkdtemp(dir=tmp))
    crew = c.mas_crew(folder, server.base_url, tasks, agents)
    server.reset()
    process_s, finished = c.run_mas(crew, folder / "home", *options)
    if options:  # offline: the server saw nothing
        nan = float("nan")
        return Sample(process_s, finished["duration_s"], finished["llm_calls"], 0.0, nan)
    steady_s = c.finished_at(finished) - (server.first_at or 0)
    return Sample(process_s, finished["duration_s"], server.requests, server.server_s, steady_s)


def peer_sample(server: c.AgentServer, python: str, script: str, tasks: int, agents: int) -> Sample:
    argv = [python, str(PEERS_DIR / script), "--base-url", server.base_url]
    server.reset()
    process_s, out = c.timed([*argv, "--tasks", str(tasks), "--agents", str(agents)], c.peer_env())
    figures = c.last_json(out)
    steady_s = figures["end_at"] - (server.first_at or 0)
    return Sample(process_s, figures["loop_s"], server.requests, server.server_s, steady_s)


def frameworks(calls: int, crewai_calls: int) -> tuple[dict[str, tuple[str, int]], list[str]]:
    """Name -> (how to run it, tasks of the many-call workload); and the skipped rows, saying why."""
    rows = {
        "mas": ("mas", calls // 2),
        "mas --offline (no HTTP)": ("mas --offline", calls // 2),
        "raw openai SDK (floor)": ("raw_openai.py", calls // 2),
    }
    python, why = c.peers_python()
    if python is None:
        return rows, [f"LangGraph, CrewAI: {why}"]
    rows["LangGraph"] = (f"{python}|langgraph_crew.py", calls // 2)
    rows["CrewAI"] = (f"{python}|crewai_crew.py", crewai_calls // 2)
    return rows, []


def sample(server: c.AgentServer, how: str, tasks: int, agents: int, tmp: Path) -> Sample:
    if how.startswith("mas"):
        return mas_sample(server, tasks, agents, tmp, *how.split()[1:])
    python, script = how.split("|") if "|" in how else (sys.executable, how)
    return peer_sample(server, python, script, tasks, agents)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000, help="model calls of the many-call crew")
    parser.add_argument("--crewai-calls", type=int, default=200, help="the same, for CrewAI")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows, skipped = frameworks(args.calls, args.crewai_calls)
    samples: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    python = []
    with c.AgentServer() as server, tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            print(f"round {run + 1}/{args.runs} ...", file=sys.stderr)
            python.append(c.timed([sys.executable, "-c", "pass"])[0])
            for name, (how, many_tasks) in rows.items():
                for workload, tasks, agents in (("crew", 3, 3), ("many", many_tasks, 1)):
                    samples[name, workload].append(sample(server, how, tasks, agents, Path(tmp)))
    report(rows, samples, args.runs)
    offline = samples["mas --offline (no HTTP)", "many"]
    per_call = c.median([(s.process_s - c.median(python)) / s.requests for s in offline])
    print(
        f"mas --offline, {offline[0].requests} model calls: (whole process - python -c pass) / "
        f"calls = {per_call * 1000:.2f} ms"
    )
    for line in skipped:
        print(line)


def report(rows: dict[str, tuple[str, int]], samples: dict, runs: int) -> None:
    def med(name: str, workload: str, figure: str) -> float:
        return c.median([getattr(s, figure) for s in samples[name, workload]])

    floor = "raw openai SDK (floor)"
    table = []
    for name in rows:
        crew_ms, many_ms = med(name, "crew", "per_request_ms"), med(name, "many", "per_request_ms")
        steady_ms = med(name, "many", "steady_ms")
        table.append([
            name,
            f"{med(name, 'crew', 'process_s'):.2f}",
            f"{crew_ms:.1f}",
            f"{crew_ms / med(floor, 'crew', 'per_request_ms'):.1f}x",
            f"{samples[name, 'many'][0].requests}",
            f"{med(name, 'many', 'process_s'):.2f}",
            f"{many_ms:.2f}",
            f"{many_ms / med(floor, 'many', 'per_request_ms'):.1f}x",
            "-" if math.isnan(steady_ms) else f"{steady_ms:.2f}",
            "-" if math.isnan(steady_ms) else f"{steady_ms / med(floor, 'many', 'steady_ms'):.1f}x",
        ])  # fmt: skip
    print(f"Orchestration overhead, instant local server; medians of {runs} runs")
    header = ["framework", "3-task crew: process s", "ms/request", "vs floor"]
    header += ["many: requests", "process s", "ms/request", "vs floor"]
    header += ["from 1st request: ms/request", "vs floor"]
    print(c.table(header, table))
    print(
        "ms/request = (time in the run - server time) / requests; the raw SDK's includes the "
        "HTTP round trip, so every row does. 'from 1st request' starts the clock when the server "
        "receives the first request, leaving out what a run does once before it (mas builds "
        f"the tokenizer, {c.tokenizer_load_s() * 1000:.0f} ms, median of 3 processes, in a "
        "thread from run start)."
    )
    print(targets(med, floor))


def targets(med: Any, floor: str) -> str:
    """Issue 19's two per-call targets, each beside its reference from this run."""
    ratio = med("mas", "many", "per_request_ms") / med(floor, "many", "per_request_ms")
    crew, raw = med("mas", "crew", "process_s"), med(floor, "crew", "process_s")
    return (
        f"target (issue 19): mas ms/request / raw SDK = {ratio:.2f} (<= 1.2: "
        f"{'met' if ratio <= 1.2 else 'NOT met'}; reference: the raw openai SDK)\n"
        f"target (issue 19): 3-task crew process {crew:.2f} s against the "
        f"raw SDK script {raw:.2f} s + 0.2 (<= {raw + 0.2:.2f}: "
        f"{'met' if crew <= raw + 0.2 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
