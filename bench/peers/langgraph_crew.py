"""LangGraph doing the crew's work: one ReAct graph per agent (model node, ToolNode, loop).

Run (by bench_overhead.py): python langgraph_crew.py --base-url URL --tasks N --agents K
Task i goes to agent i % K, whose graph is invoked with the task's prompt. Prints its figures
as JSON on the last line.
"""

from __future__ import annotations

import argparse
import json
import time

start = time.perf_counter()
from langchain_core.tools import StructuredTool  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402
from langgraph.graph import END, START, MessagesState, StateGraph  # noqa: E402
from langgraph.prebuilt import ToolNode, tools_condition  # noqa: E402

imported = time.perf_counter()


def lookup(item_id: str) -> dict:
    """Look up an item."""
    return {"item_id": item_id, "ok": True}


def agent_graph(model: ChatOpenAI, k: int):
    tool = StructuredTool.from_function(lookup, name=f"lookup_{k}")
    bound = model.bind_tools([tool])

    def call_model(state: MessagesState) -> dict:
        return {"messages": [bound.invoke([("system", f"You are agent {k}."), *state["messages"]])]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", call_model)
    graph.add_node("tools", ToolNode([tool]))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "model")
    return graph.compile()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--tasks", type=int, default=3)
    parser.add_argument("--agents", type=int, default=3)
    args = parser.parse_args()
    model = ChatOpenAI(
        model="gpt-4o-mini", base_url=args.base_url, api_key="sk-bench-dummy", max_retries=0
    )
    graphs = [agent_graph(model, k) for k in range(args.agents)]
    ready = time.perf_counter()
    for i in range(args.tasks):
        graphs[i % args.agents].invoke({"messages": [("user", f"Look up item i-{i}.")]})
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
