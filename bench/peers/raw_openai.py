"""The floor: the raw openai SDK making the requests an agent loop makes, and nothing else.

Run (by bench_overhead.py): python raw_openai.py --base-url URL --tasks N --agents K
Per task: one request offering the agent's tool, the tool "run", one request with its result.
Prints its figures as JSON on the last line.
"""

from __future__ import annotations

import argparse
import json
import time

start = time.perf_counter()
import openai  # noqa: E402, TID253  (the peers run in their own environment)

imported = time.perf_counter()


def tool_schema(k: int) -> dict:
    parameters = {
        "type": "object",
        "properties": {"item_id": {"type": "string"}},
        "required": ["item_id"],
    }
    return {
        "type": "function",
        "function": {
            "name": f"lookup_{k}",
            "description": "Look up an item.",
            "parameters": parameters,
        },
    }


def run_task(client: openai.OpenAI, i: int, k: int) -> None:
    messages: list = [
        {"role": "system", "content": f"You are agent {k}."},
        {"role": "user", "content": f"Look up item i-{i}."},
    ]
    tools = [tool_schema(k)]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools)
    call = first.choices[0].message.tool_calls[0]
    result = {"item_id": json.loads(call.function.arguments)["item_id"], "ok": True}
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)},
    ]
    client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--tasks", type=int, default=3)
    parser.add_argument("--agents", type=int, default=3)
    args = parser.parse_args()
    client = openai.OpenAI(base_url=args.base_url, api_key="sk-bench-dummy", max_retries=0)
    ready = time.perf_counter()
    for i in range(args.tasks):
        run_task(client, i, i % args.agents)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "import_s": imported - start,
                "setup_s": ready - imported,
                "loop_s": done - ready,
                "end_at": time.time(),
            }
        )
    )


if __name__ == "__main__":
    main()
