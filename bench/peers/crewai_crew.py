"""CrewAI doing the crew's work: K agents with one tool each, N sequential tasks, one kickoff.

Run (by bench_overhead.py): python crewai_crew.py --base-url URL --tasks N --agents K
Task i goes to agent i % K. Each task's context is empty, as in the mas crew (CrewAI would
otherwise pass every earlier output on). Prints its figures as JSON on the last line.
"""

from __future__ import annotations

import argparse
import json
import time

start = time.perf_counter()
from crewai import LLM, Agent, Crew, Process, Task  # noqa: E402
from crewai.tools import tool  # noqa: E402

imported = time.perf_counter()


def make_tool(k: int):
    @tool(f"lookup_{k}")
    def lookup(item_id: str) -> str:
        """Look up an item."""
        return json.dumps({"item_id": item_id, "ok": True})

    return lookup


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--tasks", type=int, default=3)
    parser.add_argument("--agents", type=int, default=3)
    args = parser.parse_args()
    llm = LLM(model="openai/gpt-4o-mini", base_url=args.base_url, api_key="sk-bench-dummy")
    agents = [
        Agent(
            role=f"Agent {k}",
            goal="Look things up",
            backstory="A worker.",
            tools=[make_tool(k)],
            llm=llm,
            verbose=False,
        )
        for k in range(args.agents)
    ]
    tasks = [
        Task(
            description=f"Look up item i-{i}.",
            expected_output="The item.",
            agent=agents[i % args.agents],
            context=[],
        )
        for i in range(args.tasks)
    ]
    crew = Crew(agents=agents, tasks=tasks, process=Process.sequential, verbose=False)
    ready = time.perf_counter()
    crew.kickoff()
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
