"""`mas triage loops` throughput and peak memory on a generated file of each chat format.

Run: `python bench/bench_chats.py [--mb 100] [--formats openai,anthropic,...]`. Each file is
generated once into bench/.cache/ (gitignored): OpenAI chats as JSON lines, Anthropic chats as
one JSON list, an AG2 group chat and a SWE-agent .traj as one object each (their messages
streamed from inside it), Magentic-One messages as JSON lines, an OpenHands event list. Each
file is read once to warm the page cache, then timed; peak RSS is the child's (wait4).
Generators are plain functions of (rng, record number) -> text, for bench_formats.py to reuse.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
WORDS = [
    "the",
    "refund",
    "policy",
    "says",
    "customers",
    "may",
    "return",
    "goods",
    "within",
    "thirty",
    "days",
    "of",
    "purchase",
]


def _say(rng: random.Random, n: int = 40) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _openai(rng: random.Random, i: int) -> dict[str, object]:
    messages: list[dict[str, object]] = [{"role": "user", "content": _say(rng)}]
    for j in range(8):
        args = json.dumps({"query": f"q{j % 3 if i % 10 else 0}"})
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"c{i}_{j}",
                        "type": "function",
                        "function": {"name": "search", "arguments": args},
                    }
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": f"c{i}_{j}", "content": _say(rng)})
    messages.append({"role": "assistant", "content": _say(rng)})
    return {"id": f"conv-{i}", "messages": messages}


def _anthropic(rng: random.Random, i: int) -> dict[str, object]:
    messages: list[dict[str, object]] = [
        {"role": "user", "content": [{"type": "text", "text": _say(rng)}]}
    ]
    for j in range(8):
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": _say(rng, 20)},
                    {
                        "type": "tool_use",
                        "id": f"t{i}_{j}",
                        "name": "run_tests",
                        "input": {"path": "tests/"},
                    },
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": f"t{i}_{j}",
                        "is_error": j % 2 == 0,
                        "content": _say(rng),
                    }
                ],
            }
        )
    return {"conversation_id": f"a-{i}", "messages": messages}


def _group_message(rng: random.Random, i: int) -> dict[str, object]:
    name = ("writer", "critic", "editor")[i % 3]
    return {
        "role": "assistant" if name == "writer" else "user",
        "name": name,
        "content": _say(rng, 60),
    }


def _magentic(rng: random.Random, i: int) -> dict[str, object]:
    if i % 3 == 0:
        ledger = {"next_speaker": {"reason": _say(rng, 10), "answer": "WebSurfer"}}
        return {
            "source": "MagenticOneOrchestrator",
            "type": "TextMessage",
            "content": json.dumps(ledger),
            "models_usage": {"prompt_tokens": 900, "completion_tokens": 60},
        }
    if i % 3 == 1:
        return {
            "source": "WebSurfer",
            "type": "ToolCallRequestEvent",
            "content": [
                {
                    "id": f"c{i}",
                    "name": "visit_url",
                    "arguments": json.dumps({"url": f"https://e.x/{i % 7}"}),
                }
            ],
            "models_usage": {"prompt_tokens": 1200, "completion_tokens": 20},
        }
    return {
        "source": "WebSurfer",
        "type": "ToolCallExecutionEvent",
        "content": [
            {"call_id": f"c{i - 1}", "name": "visit_url", "content": _say(rng), "is_error": False}
        ],
    }


def _step(rng: random.Random, i: int) -> dict[str, object]:
    action = f"python -m pytest tests/test_{i % 5}.py -x\n"
    return {
        "response": _say(rng, 30),
        "thought": _say(rng, 30),
        "action": action,
        "observation": _say(rng, 80),
        "state": "{}",
        "query": [],
        "execution_time": 0.3,
    }


def _openhands(rng: random.Random, i: int) -> dict[str, object]:
    if i % 2 == 0:
        return {
            "id": i,
            "timestamp": f"2026-11-20T10:{i // 120 % 60:02d}:{i // 2 % 60:02d}",
            "source": "agent",
            "message": "Running",
            "action": "run",
            "args": {"command": f"pytest -q tests/t{i % 4}.py"},
            "tool_call_metadata": {
                "function_name": "execute_bash",
                "tool_call_id": f"t{i}",
                "model_response": {
                    "id": f"r{i}",
                    "usage": {"prompt_tokens": 2000, "completion_tokens": 40},
                },
            },
        }
    return {
        "id": i,
        "source": "agent",
        "cause": i - 1,
        "observation": "run",
        "content": _say(rng, 60),
        "extras": {"command": "pytest -q", "metadata": {"exit_code": i % 3 == 0}},
    }


Make = Callable[[random.Random, int], dict[str, object]]
# format: (file name, how items are laid out, the item generator)
FORMATS: dict[str, tuple[str, str, Make]] = {
    "openai": ("openai.jsonl", "lines", _openai),
    "anthropic": ("anthropic.json", "list", _anthropic),
    "ag2": ("ag2.json", "object:chat_history", _group_message),
    "magentic": ("magentic.jsonl", "lines", _magentic),
    "swe-agent": ("swe.traj", "object:trajectory", _step),
    "openhands": ("openhands.json", "list", _openhands),
}


def _chunks(layout: str, make: Make, limit: int, seed: int) -> Iterator[str]:
    rng, size, i = random.Random(seed), 0, 0
    key = layout.partition(":")[2]
    yield "[\n" if layout == "list" else f'{{"id": "bench", "{key}": [\n' if key else ""
    while size < limit:
        item = json.dumps(make(rng, i), indent=1 if layout != "lines" else None)
        text = item + "\n" if layout == "lines" else ("" if i == 0 else ",\n") + item
        size += len(text)
        i += 1
        yield text
    yield "\n]\n" if layout == "list" else "\n]}\n" if key else ""


def generate(name: str, megabytes: int, seed: int = 7) -> Path:
    """The file of one format (cached), about `megabytes` MB."""
    file, layout, make = FORMATS[name]
    path = CACHE / f"chats-{megabytes}mb-{file}"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w") as out:
            out.writelines(_chunks(layout, make, megabytes << 20, seed))
        tmp.rename(path)
    return path


def measure(path: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak RSS bytes of one `mas triage loops` over the file
    (CPU too: on a shared machine the wall time says as much about the neighbours)."""
    argv = [sys.executable, "-m", "mas_cli", "triage", "loops", str(path)]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    cpu = usage.ru_utime + usage.ru_stime
    return time.perf_counter() - start, cpu, usage.ru_maxrss * 1024


def _warm(path: Path) -> None:
    """The file into the page cache, a piece at a time: a child's peak RSS on Linux starts at
    its parent's (it is kept across fork and exec), so this process stays small."""
    with path.open("rb") as handle:
        while handle.read(1 << 20):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--formats", default=",".join(FORMATS))
    args = parser.parse_args()
    print(f"{'format':<12} {'MB':>6} {'MB/s':>7} {'MB/CPU-s':>9} {'peak RSS MB':>12}")
    for name in args.formats.split(","):
        path = generate(name, args.mb)
        _warm(path)
        seconds, cpu, peak = measure(path)
        size = path.stat().st_size / 1e6
        print(f"{name:<12} {size:6.0f} {size / seconds:7.1f} {size / cpu:9.1f} {peak / 1e6:12.1f}")


if __name__ == "__main__":
    main()
