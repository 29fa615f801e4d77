"""The floor for parallel tasks: the raw openai SDK sending N chat requests at once with asyncio.

Run (by bench_concurrency.py): python raw_openai_parallel.py --base-url URL --tasks N
The client and its chat resource are made before the clock starts (as mas opens its
providers before the run);
prints the seconds from the first request sent to the last answer parsed, as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import openai  # noqa: TID253  (imported before the clock, as mas does)


async def one(client: openai.AsyncOpenAI, i: int) -> None:
    messages = [
        {"role": "system", "content": "You are agent a0."},
        {"role": "user", "content": f"Say {i}."},
    ]
    answer = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert answer.choices[0].message is not None


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--tasks", type=int, default=20)
    args = parser.parse_args()
    client = openai.AsyncOpenAI(base_url=args.base_url, api_key="sk-bench-dummy", max_retries=0)
    _ = client.chat.completions  # its lazy import before the clock, as mas does before a run
    start = time.perf_counter()
    await asyncio.gather(*(one(client, i) for i in range(args.tasks)))
    print(json.dumps({"run_s": time.perf_counter() - start}))


if __name__ == "__main__":
    asyncio.run(main())
