"""Batch throughput: crews/fraud-review over many items with `mas batch`, offline and against an
instant local OpenAI/Anthropic-compatible server (tests/fakeserver.py); wall time, items per
second, and the process's peak memory at two sizes (memory should not follow the items).

Run: python bench/bench_batch.py [--items 12000] [--server-items 2000] [--concurrency 32]
                                 [--accounts 300] [--workers 2]

Target (issue 20): 12,000 items offline in at most 60 s on a 2-core machine, memory flat.

Two kinds of item file. All distinct (the first rows): every transaction differs from the first
word, so every search_patterns call differs and runs its command (two Python processes). From a
few hundred accounts (the row saying so): transactions come from --accounts accounts, each with
its usual amount, as real traffic repeats its payers; the offline model's pattern query is
drawn from the transaction's first words, so it repeats per account and the deterministic tool
cache answers every repeat (each item is still its own run, with its own model calls).

Rows run in one process (`--workers 1`) unless their workers column says otherwise: then the
items run in that many worker processes (`mas batch --workers N`), and CPU ms/item counts them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as c

CREW = c.ROOT / "crews" / "fraud-review"
TARGET_S = 60.0
TARGET_ITEMS = 12_000
ANSWER = json.dumps({"decision": "review", "fraud_score": 0.4, "reason": "new payee at night"})


def write_items(path: Path, count: int, accounts: int | None = None) -> Path:
    """Transactions that differ item to item (so do the tool calls they lead to); or, given
    `accounts`, transactions from that many accounts (the pattern queries repeat per account)."""
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            tx = f"tx-{n}: ${(n * 37) % 9000 + 10} from acct-{n % 50} to a new payee at 03:{n % 60:02d}"
            if accounts:
                a = n % accounts
                tx = f"acct-{a} pays ${(a * 37) % 9000 + 10} to a new payee at 03:{n % 60:02d}, ref tx-{n}"
            out.write(json.dumps({"id": f"tx-{n}", "transaction": tx}) + "\n")
    return path


def run_batch(
    crew: Path, items: Path, home: Path, concurrency: int, offline: bool, *, workers: int = 1
) -> dict:
    """One `mas batch` process: wall seconds, peak RSS (MB) and its --json summary."""
    argv = [sys.executable, "-m", "mas_cli", "batch", str(crew), "--inputs", str(items)]
    argv += ["--key", "id", "-c", str(concurrency), "--home", str(home), "-q", "--json"]
    argv += ["--workers", str(workers)]
    argv += ["--offline"] if offline else []
    timer = shutil.which("time") or "/usr/bin/time"
    env = {**c.mas_env(), "MAS_TEST_KEY": "sk-bench"}
    start = time.perf_counter()
    done = subprocess.run(
        [timer, "-f", "%M %U %S", *argv], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"mas batch failed ({done.returncode}):\n{done.stderr[-2000:]}")
    rss_kb, user, system = done.stderr.strip().splitlines()[-1].split()
    cpu = float(user) + float(system)  # the process's own CPU: less noisy than wall on a busy box
    summary = json.loads(done.stdout)
    return {
        "wall": wall,
        "rss": int(rss_kb) / 1024,
        "cpu": cpu,
        "summary": summary,
        "workers": workers,
    }


def served_crew(folder: Path, url: str) -> Path:
    """The fraud-review crew, its two models pointed at the local server."""
    shutil.copytree(CREW, folder, dirs_exist_ok=True)
    path = folder / "crew.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "fast: {provider: openai, model: gpt-4o-mini, temperature: 0}",
        f"fast: {{provider: openai, model: gpt-4o-mini, temperature: 0, base_url: {url}/v1, "
        "api_key_env: MAS_TEST_KEY}",
    ).replace(
        "careful: {provider: anthropic, model: claude-sonnet-4-6, max_tokens: 1024}",
        f"careful: {{provider: anthropic, model: claude-sonnet-4-6, max_tokens: 1024, "
        f"base_url: {url}, api_key_env: MAS_TEST_KEY}}",
    )
    text += "prices:\n  fast: {input: 0.15, output: 0.6}\n  careful: {input: 3, output: 15}\n"
    path.write_text(text, encoding="utf-8")
    return path


FUNCTION_TOOL = '''
"""search_patterns as a function tool: the same matching as patterns.py, no process per call."""

from patterns import PATTERNS


def search_patterns(query: str) -> dict:
    """Search known fraud patterns; returns the matches."""
    words = {w.strip(",.:$").lower() for w in query.split()}
    matches = [
        {"id": p["id"], "name": p["name"], "weight": p["weight"]}
        for p in PATTERNS
        if words & p["words"]
    ]
    return {"query": query, "matches": matches}
'''


def function_crew(folder: Path) -> Path:
    """fraud-review with its command tool (a process per call) as a function tool."""
    shutil.copytree(CREW, folder, dirs_exist_ok=True)
    (folder / "patterns_fn.py").write_text(FUNCTION_TOOL, encoding="utf-8")
    path = folder / "crew.yaml"
    text = path.read_text(encoding="utf-8").replace(
        'command: [python, patterns.py, --query, "{query}"]',
        "function: patterns_fn.py:search_patterns",
    )
    path.write_text(text, encoding="utf-8")
    return path


def row(name: str, items: int, result: dict, concurrency: int) -> str:
    counts = result["summary"]["counts"]
    done = counts["ok"] + counts["failed"] + counts["stopped"]
    rate = done / result["wall"]
    per = result["wall"] / max(done, 1) * 1000
    at_target = TARGET_ITEMS / rate
    cpu_per = result["cpu"] / max(done, 1) * 1000
    return (
        f"| {name} | {items:,} | {concurrency} | {result['workers']} | {counts['ok']:,} "
        f"| {result['wall']:.1f} "
        f"| {rate:.1f} | {per:.1f} | {cpu_per:.1f} | {at_target:.0f} | {result['rss']:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=TARGET_ITEMS)
    parser.add_argument("--server-items", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument(
        "--workers", type=int, default=2, help="the worker processes of the rows that use them"
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small = max(args.items // 10, 1)
        for count in (small, args.items):
            items = write_items(root / f"items{count}.jsonl", count)
            home = root / f"home{count}"
            result = run_batch(CREW / "crew.yaml", items, home, args.concurrency, offline=True)
            rows.append(row("offline, cold tool cache", count, result, args.concurrency))
        warm = run_batch(CREW / "crew.yaml", items, home, args.concurrency, offline=True)
        rows.append(
            row("offline, warm tool cache (same items again)", args.items, warm, args.concurrency)
        )
        warm = run_batch(
            CREW / "crew.yaml", items, home, args.concurrency, offline=True, workers=args.workers
        )
        rows.append(row("offline, warm tool cache, in workers", args.items, warm, args.concurrency))
        repeat = write_items(root / "accounts.jsonl", args.items, args.accounts)
        result = run_batch(CREW / "crew.yaml", repeat, root / "acct-home", args.concurrency, True)
        name = f"offline, items from {args.accounts} accounts, cold tool cache"
        rows.append(row(name, args.items, result, args.concurrency))
        result = run_batch(
            CREW / "crew.yaml",
            repeat,
            root / "acct-home2",
            args.concurrency,
            True,
            workers=args.workers,
        )
        rows.append(row(name + ", in workers", args.items, result, args.concurrency))
        crew = function_crew(root / "function")
        fn = run_batch(crew, items, root / "fn-home", args.concurrency, offline=True)
        rows.append(
            row("offline, search_patterns as a function tool", args.items, fn, args.concurrency)
        )
        with c.fakeserver().FakeServer() as server:
            server._http.socket.listen(128)
            server.openai.handler = lambda _b: c.fakeserver().openai_text(ANSWER)
            server.anthropic.handler = lambda _b: c.fakeserver().anthropic_text(ANSWER)
            crew = served_crew(root / "served", server.url)
            items = write_items(root / "served-items.jsonl", args.server_items)
            result = run_batch(crew, items, root / "served-home", args.concurrency, offline=False)
            rows.append(
                row("instant local server (HTTP)", args.server_items, result, args.concurrency)
            )
            result = run_batch(
                crew,
                items,
                root / "served-home2",
                args.concurrency,
                offline=False,
                workers=args.workers,
            )
            name = "instant local server (HTTP), in workers"
            rows.append(row(name, args.server_items, result, args.concurrency))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Batch throughput: crews/fraud-review with mas batch; load average at the end {load}")
    print(
        "| mode | items | concurrency | workers | ok | wall s | items/s | wall ms/item | CPU ms/item | 12,000 items s (at this rate) | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(
        "CPU ms/item: the mas process's user+system CPU per item, its children's included "
        "(worker processes, the reaper server, command tools); peak RSS: the largest process"
    )
    print(f"(load average at the end; {len(os.sched_getaffinity(0))} cores)")
    print(f"target (issue 20): {TARGET_ITEMS:,} items offline in <= {TARGET_S:.0f} s, memory flat")


if __name__ == "__main__":
    main()
