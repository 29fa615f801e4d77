"""The tool cache: how fast a hit is, and what it saves when an example crew runs twice.

Run: python bench/bench_cache.py [--hits N] [--crew CREW.yaml ...]
Prints
  1. the latency of a cache hit, as a run sees it (key, lookup, result), over N hits of each
     example tool, next to the latency of the call it replaces;
  2. for each example crew run twice offline in a fresh home: tool calls (run / from the
     cache), tool time, time saved, estimated tokens and dollars (the configured models'
     prices) in the first and the second run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from mas_cli.engine.run import RunOptions, run_crew
from mas_cli.spec.loader import load_crew
from mas_cli.tools import load_tool
from mas_cli.tools.cache import ToolCache, cache_dir, call_cached

ROOT = Path(__file__).resolve().parent.parent
CREWS = ["fraud-review", "support-ticket", "research-pipeline"]


def hit_latency(crew_path: Path, name: str, hits: int, home: Path) -> dict[str, Any]:
    """Miss once, then time `hits` hits of the tool's first example."""
    crew = load_crew(crew_path)
    tool = load_tool(crew, name)
    example = dict(crew.spec.tools[name].examples[0])

    async def measure() -> tuple[float, list[float]]:
        with ToolCache(cache_dir(home)) as cache:
            miss = await call_cached(tool, example, cache)
            assert miss.status == "miss", miss
            times = []
            for _ in range(hits):
                done = await call_cached(tool, example, cache)
                assert done.status == "hit", done
                times.append(done.result.latency_s)
            return miss.result.latency_s, times

    miss_s, times = asyncio.run(measure())
    times.sort()
    return {
        "tool": f"{crew_path.parent.name}/{name}",
        "miss_ms": miss_s * 1000,
        "median_ms": statistics.median(times) * 1000,
        "p95_ms": times[int(0.95 * (len(times) - 1))] * 1000,
    }


def run_figures(crew_path: Path, home: Path) -> dict[str, Any]:
    """Run the crew offline in `home` and sum its tool calls and tokens from the run log."""
    started = time.perf_counter()
    result = asyncio.run(run_crew(load_crew(crew_path), RunOptions(home=home, offline=True)))
    wall = time.perf_counter() - started
    lines = (Path(result.run_dir) / "events.jsonl").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    tools = [e for e in events if e["type"] == "tool_call"]
    finished = next(e for e in events if e["type"] == "run_finished")
    return {
        "status": result.status,
        "tool_calls": len(tools),
        "from_cache": sum(e["cached"] for e in tools),
        "tool_ms": sum(e["latency_s"] for e in tools) * 1000,
        "saved_ms": sum(e.get("saved_s") or 0 for e in tools) * 1000,
        "tokens": finished["input_tokens"] + finished["output_tokens"],
        "dollars": finished["cost_usd"],
        "wall_ms": wall * 1000,
    }


def dollars(cost: float | None) -> str:
    return "unknown" if cost is None else f"{cost:.6f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hits", type=int, default=1000)
    parser.add_argument("--crew", type=Path, action="append")
    args = parser.parse_args()
    crews = args.crew or [ROOT / "crews" / name / "crew.yaml" for name in CREWS]

    print(f"1. cache hit latency ({args.hits} hits each, fresh cache)")
    print(f"{'tool':<36} {'miss ms':>9} {'hit median ms':>14} {'hit p95 ms':>11}")
    for crew_path in crews:
        for name, spec in load_crew(crew_path).spec.tools.items():
            if spec.effective_kind == "deterministic" and spec.examples:
                with tempfile.TemporaryDirectory() as home:
                    row = hit_latency(crew_path, name, args.hits, Path(home))
                print(
                    f"{row['tool']:<36} {row['miss_ms']:>9.2f} {row['median_ms']:>14.3f} "
                    f"{row['p95_ms']:>11.3f}"
                )

    print("\n2. each crew run twice offline in a fresh home")
    print(
        f"{'crew':<20} {'run':>3} {'status':>7} {'tool calls':>10} {'from cache':>10} "
        f"{'tool ms':>9} {'saved ms':>9} {'tokens':>7} {'est. $':>9} {'wall ms':>8}"
    )
    for crew_path in crews:
        with tempfile.TemporaryDirectory() as home:
            for number in (1, 2):
                row = run_figures(crew_path, Path(home))
                print(
                    f"{crew_path.parent.name:<20} {number:>3} {row['status']:>7} "
                    f"{row['tool_calls']:>10} {row['from_cache']:>10} {row['tool_ms']:>9.2f} "
                    f"{row['saved_ms']:>9.2f} {row['tokens']:>7} {dollars(row['dollars']):>9} "
                    f"{row['wall_ms']:>8.1f}"
                )


if __name__ == "__main__":
    main()
