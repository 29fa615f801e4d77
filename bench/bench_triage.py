"""`mas triage loops` throughput and peak memory on a generated 1 GB events.jsonl.

Run: `python bench/bench_triage.py [--mb 1024] [--seed 7] [--loops 0.02]`. The log is generated once into
bench/.cache/ (gitignored) in our own run-log format: many runs of three agents, healthy ones
and runaway ones, written the way the orchestrator writes them. The page cache is warmed, then
`wc -l`, `grep -c`, `mas triage loops` (and `jq`, if installed, on the first 64 MB) run side
by side; each prints MB/s (from runs nobody watches) and peak memory (PSS summed over the process
and its children, from one more run that is sampled).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
AGENTS = (("scorer", "score"), ("critic", "critique"), ("judge", "judge"))
TOOLS = ("search_kb", "lookup_account", "request_rescore")
DETERMINISTIC = {"search_kb", "lookup_account"}  # cached tools: their calls log a cache key
JQ_BYTES = 64 << 20
LOOPS = 0.02


def _ts(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def _event(run: str, trace: str, t: float, kind: str, rng: random.Random, **fields: object) -> str:
    """One line as the writer dumps an event model: the common fields, `type`, then the rest."""
    head: dict[str, object] = {
        "v": 1,
        "ts": _ts(t),
        "run_id": run,
        "trace_id": trace,
        "span_id": f"{rng.getrandbits(64):016x}",
    }
    if "agent" in fields:
        head["parent_id"] = f"{rng.getrandbits(64):016x}"
    for common in ("agent", "task", "turn"):
        if common in fields:
            head[common] = fields.pop(common)
    return json.dumps({**head, "type": kind, **fields}, separators=(",", ":"))


def _llm(
    rng: random.Random, turn: int, tokens: int, output: str, tool: str | None
) -> dict[str, object]:
    output_tokens = rng.randint(20, 300)
    return {
        "turn": turn,
        "provider": "openai",
        "model": "gpt-4o-mini",
        "response_model": "gpt-4o-mini-2024-07-18",
        "attempt": 1,
        "status": "ok",
        "input_tokens": tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "usage_source": "provider",
        "raw_usage": {  # the provider's usage object, kept as it came
            "prompt_tokens": tokens,
            "completion_tokens": output_tokens,
            "total_tokens": tokens + output_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "cost_usd": round(tokens * 1.5e-7, 8),
        "latency_s": round(rng.uniform(0.2, 3), 6),
        "wait_s": 0.0,
        "finish_reason": "tool_calls" if tool else "stop",
        "tool_calls": [tool] if tool else [],
        "output_digest": output,
    }


def _tool(
    rng: random.Random, turn: int, tool: str, args: str, answered: dict[tuple[str, str], str]
) -> dict[str, object]:
    """A tool call; a deterministic tool's repeat is answered from the cache, as mas does."""
    cached = tool in DETERMINISTIC and (tool, args) in answered
    result = answered[tool, args] if cached else f"{rng.getrandbits(64):016x}"
    answered.setdefault((tool, args), result)
    key = hashlib.sha256(f"{tool}\0{args}".encode()).hexdigest()
    return {
        "turn": turn,
        "tool": tool,
        "tool_call_id": f"call_{rng.getrandbits(48):012x}",
        "args_digest": args,
        "result_digest": result,
        "status": "ok",
        "latency_s": round(rng.uniform(0.01, 0.5), 6),
        "cached": cached,
        **({"cache_key": key} if tool in DETERMINISTIC else {}),
        "output_bytes": rng.randint(100, 4000),
    }


def _run(rng: random.Random, number: int, t: float, loops: float) -> Iterator[str]:
    run, trace = f"20261121T{number:09d}-{rng.getrandbits(24):06x}", f"{rng.getrandbits(128):032x}"
    runaway = rng.random() < loops  # by default one run in fifty loops all night
    answered: dict[tuple[str, str], str] = {}
    yield _event(
        run,
        trace,
        t,
        "run_started",
        rng,
        crew="fraud-review",
        crew_path="crews/fraud-review/crew.yaml",
        process="parallel",
        offline=False,
        mas_version="0.1.0",
    )
    turns = {a: (rng.randint(12, 40) if runaway else rng.randint(1, 5)) for a, _ in AGENTS}
    for agent, task in AGENTS:
        yield _event(
            run,
            trace,
            t,
            "task_started",
            rng,
            agent=agent,
            task=task,
            depends_on=[],
            prompt_digest=f"{rng.getrandbits(64):016x}",
        )
    for turn in range(1, max(turns.values()) + 1):
        for agent, task in AGENTS:
            if turn > turns[agent]:
                continue
            t += rng.uniform(0.5, 4)
            tool = rng.choice(TOOLS) if turn < turns[agent] else None
            args = f"{rng.getrandbits(64):016x}" if not runaway else "a1b2c3d4e5f60718"
            output = f"{rng.getrandbits(64):016x}" if not runaway else "feedfacecafebeef"
            yield _event(
                run,
                trace,
                t,
                "llm_call",
                rng,
                agent=agent,
                task=task,
                **_llm(rng, turn, 300 + turn * (900 if runaway else 120), output, tool),
            )
            if tool:
                yield _event(
                    run,
                    trace,
                    t,
                    "tool_call",
                    rng,
                    agent=agent,
                    task=task,
                    **_tool(rng, turn, tool, args, answered),
                )
    for agent, task in AGENTS:
        yield _event(
            run,
            trace,
            t,
            "task_finished",
            rng,
            agent=agent,
            task=task,
            status="stopped" if runaway else "ok",
            turns=turns[agent],
            input_tokens=0,
            output_tokens=0,
            duration_s=1.0,
        )
    yield _event(
        run,
        trace,
        t,
        "run_finished",
        rng,
        status="stopped" if runaway else "ok",
        duration_s=10.0,
        llm_calls=0,
        tool_calls=0,
        input_tokens=0,
        output_tokens=0,
    )


def generate(path: Path, megabytes: int, seed: int, loops: float = LOOPS) -> None:
    """Write runs until the file holds `megabytes` MB."""
    rng, target, size, number, t = random.Random(seed), megabytes * 1_000_000, 0, 0, 1_795_000_000.0
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        while size < target:
            number += 1
            for line in _run(rng, number, t, loops):
                out.write(line + "\n")
                size += len(line) + 1
            t += rng.uniform(1, 30)
    tmp.rename(path)


def measure(argv: list[str], *, sample: bool = False) -> tuple[float, int]:
    """Wall seconds of one command, and with `sample`, its peak PSS bytes (summed over the
    process tree; 0 without).

    Sampling reads smaps_rollup of every process in the tree 50 times a second: kernel time
    taken from the two cores the command runs on. So speed is timed in runs nobody watches,
    and memory measured in runs of its own.
    """
    with (CACHE / "stdout.txt").open("wb") as out:  # not /dev/null: GNU grep -c stops early there
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        peak = 0
        while sample and proc.poll() is None:
            peak = max(peak, _tree_pss(proc.pid))
            time.sleep(0.02)
        proc.wait()
        return time.perf_counter() - start, peak


def _tree_pss(pid: int) -> int:
    total = 0
    for child in _tree(pid):
        try:
            rollup = Path(f"/proc/{child}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
    return total


def _tree(pid: int) -> set[int]:
    """The process and its descendants, from the kernel's per-thread lists of children.

    Reading every /proc/*/stat instead cost a sixth of a core at this sampling rate: CPU taken
    from the command measured, which uses both cores.
    """
    if not Path(f"/proc/{pid}/task/{pid}/children").exists():
        return _tree_by_parents(pid)
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in tree:
                    tree.add(child)
                    frontier.append(child)
    return tree


def _tree_by_parents(pid: int) -> set[int]:
    """The same, on a kernel without the children lists: every process's parent, read."""
    parents: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            parents[int(proc.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    tree, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree, grew = tree | more, bool(more)
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024, help="size of the generated log in MB")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument(
        "--loops",
        type=float,
        default=LOOPS,
        help="the share of runs that loop (1.0: an incident log, nearly all of it one loop)",
    )
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    tag = "" if args.loops == LOOPS else f"-loops{args.loops:g}"
    log = CACHE / f"events-{args.mb}mb-{args.seed}{tag}-v4.jsonl"
    if not log.exists():
        print(f"generating {log} ...", file=sys.stderr)
        generate(log, args.mb, args.seed, args.loops)
    size = log.stat().st_size
    subprocess.run(["cat", str(log)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    env_python = sys.executable
    mas = [env_python, "-m", "mas_cli", "triage", "loops", str(log)]
    rows = [
        ("wc -l", ["wc", "-l", str(log)], size),
        ("grep -c", ["grep", "-c", '"type":"llm_call"', str(log)], size),
        ("mas triage loops", mas, size),
    ]
    if shutil.which("jq"):
        head = log.with_name(f"{log.stem}-head64mb.jsonl")
        if not head.exists():
            with log.open("rb") as src:
                data = src.read(JQ_BYTES)
            head.write_bytes(data[: data.rfind(b"\n") + 1])
        rows.append(
            (
                "jq (first 64 MB)",
                ["jq", "-c", 'select(.type=="llm_call") | .agent', str(head)],
                head.stat().st_size,
            )
        )
    os.environ["PYTHONPATH"] = str(ROOT)
    print(f"log: {log} ({size / 1e6:,.0f} MB), {os.cpu_count()} cores, {args.repeat} rounds")
    speeds: dict[str, list[float]] = {name: [] for name, _, _ in rows}
    ratios = []
    for _ in range(args.repeat):  # rounds interleaved: each round's ratio is side by side
        for name, argv, nbytes in rows:
            seconds, _ = measure(argv)
            speeds[name].append(nbytes / 1e6 / seconds)
        ratios.append(speeds["mas triage loops"][-1] / speeds["grep -c"][-1])
    peaks = {name: measure(argv, sample=True)[1] for name, argv, _ in rows}
    print(f"{'command':<20} {'MB/s':>8} {'peak PSS MB':>12}   (median MB/s; each round's)")
    for name, found in speeds.items():
        rounds = " ".join(f"{s:.0f}" for s in found)
        print(f"{name:<20} {statistics.median(found):8.0f} {peaks[name] / 1e6:12.1f}   ({rounds})")
    each = " ".join(f"{r:.3f}" for r in ratios)
    print(f"mas / grep -c: median {statistics.median(ratios):.3f} ({each})")
    print("MB/s from runs with nothing watching; peak PSS from one more run of each, sampled")


if __name__ == "__main__":
    main()
