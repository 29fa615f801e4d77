"""Token-counting throughput of mas_cli.cost.tokens on a few MB of generated, realistic text.

Run: `python bench/bench_tokens.py [--mb 4] [--seed 7] [--runs 3]`; it times this checkout
(medians of the runs).
The text mixes English prose, Python, JSON tool results and Markdown, like agent transcripts.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Benchmark this checkout, not whichever mas_cli happens to be installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mas_cli.cost import tokens

VOCABULARY = (
    "the of and to in is that for it as was with be by on not he this are or his from at which "
    "but have an they you were her she there been one all we their has would when if so no what "
    "customer refund policy invoice account password reset outage service request ticket agent "
    "review payment transaction pattern analysis report summary evidence priority escalate "
    "within days business approved declined pending verify identity support knowledge base"
)
WORDS = VOCABULARY.split()

CODE = '''def {name}(items: list[dict[str, object]], limit: int = {n}) -> list[str]:
    """Return the ids of the first {n} items that are still open."""
    out = []
    for item in items[:limit]:
        if item.get("status") == "open" and item.get("score", 0) > {score}:
            out.append(str(item["id"]))
    return out

'''


def _sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(6, 22))
    return " ".join(words).capitalize() + rng.choice([".", ".", ".", "?", "!"])


def _prose(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(3, 8))) + "\n\n"


def _code(rng: random.Random) -> str:
    name = "_".join(rng.choices(WORDS, k=3))
    return CODE.format(name=name, n=rng.randint(2, 500), score=round(rng.random(), 3))


def _json(rng: random.Random) -> str:
    rows = [
        {"id": f"txn_{rng.getrandbits(40):010x}", "amount": round(rng.uniform(1, 5000), 2),
         "status": rng.choice(["open", "closed", "flagged"]), "note": _sentence(rng)}
        for _ in range(rng.randint(2, 6))
    ]  # fmt: skip
    return json.dumps({"results": rows}, indent=2) + "\n"


def _markdown(rng: random.Random) -> str:
    items = "".join(f"- {_sentence(rng)}\n" for _ in range(rng.randint(2, 5)))
    return f"## {_sentence(rng).rstrip('.?!')}\n\n{items}\n"


def generate(megabytes: float, seed: int) -> str:
    """Deterministic mixed text of about `megabytes` MB (UTF-8)."""
    rng = random.Random(seed)
    makers: list[Callable[[random.Random], str]] = [_prose, _prose, _code, _json, _markdown]
    parts: list[str] = []
    size, target = 0, int(megabytes * 1_000_000)
    while size < target:
        part = rng.choice(makers)(rng)
        parts.append(part)
        size += len(part.encode())
    return "".join(parts)


def chunks(text: str, size: int) -> list[str]:
    """`text` cut into pieces of about `size` characters, like the messages of a transcript."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def median_of(runs: int, work: Callable[[], int]) -> tuple[float, int]:
    """The median of `runs` timings of `work`, and what it returned."""
    times, result = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=4.0, help="MB of text to generate")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3, help="timed runs; the median is kept")
    args = parser.parse_args()
    text = generate(args.mb, args.seed)
    megabytes = len(text.encode()) / 1_000_000
    pieces = chunks(text, 4000)
    print(f"text: {megabytes:.2f} MB, {len(pieces)} messages of ~4,000 characters")
    for model in ("gpt-4o", "gpt-4"):  # Claude estimates run the o200k encoder too
        report(model, text, pieces, args.runs)


def report(model: str, text: str, pieces: list[str], runs: int) -> None:
    """Print load time and throughput for `model`, on one text and on many messages."""
    megabytes = len(text.encode()) / 1_000_000
    start = time.perf_counter()
    tokens.count_text("warm up", model)  # builds and caches the encoding on first use
    load = time.perf_counter() - start
    # One text as large as is counted exactly (past EXACT_MAX_CHARS its UTF-8 size is used).
    one = text[: tokens.EXACT_MAX_CHARS]
    one_mb = len(one.encode()) / 1_000_000
    whole, n = median_of(runs, lambda: fresh(lambda: tokens.count_text(one, model).tokens))
    split, n_split = median_of(
        runs, lambda: fresh(lambda: sum(tokens.count_text(p, model).tokens for p in pieces))
    )
    again, _ = median_of(runs, lambda: sum(tokens.count_text(p, model).tokens for p in pieces))
    print(
        f"{model:7} {tokens.encoding_name(model)} load {load:4.2f}s | "
        f"one text ({one_mb:.2f} MB): {n / whole:>10,.0f} tok/s {one_mb / whole:5.2f} MB/s | "
        f"per message: {n_split / split:>10,.0f} tok/s {megabytes / split:5.2f} MB/s | "
        f"counted again (memo): {megabytes / again:7.0f} MB/s"
    )


def fresh(work: Callable[[], int]) -> int:
    """`work` with the memo of counted texts emptied first: the tokenizer's own speed."""
    tokens._counted.clear()
    return work()


if __name__ == "__main__":
    main()
