"""A whole tool round trip against real servers, on every wire: the model calls a tool, reads
its result and gives a final answer that passes the task's `output_schema`, in one run.

The server is llama-server on the hand-written model of `scriptedmodel.py` (a tool call first,
`{"decision":"approve"}` once a result is in the prompt), reached directly through its OpenAI
and Anthropic endpoints and through the LiteLLM proxy's two. The server's own chat template,
tool-call grammar and parser, and each wire's tool-call and tool-result shapes are real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from crewkit import of_type
from realcrew import calls, crew, run_live
from servers import Server

TOOL_THEN_ANSWER = {"max_turns": 3, "max_tool_calls": 2}


def _model(server: Server, wire: str, model: str) -> dict[str, Any]:
    return {"provider": wire, "model": model, "base_url": server.url + "/v1", "max_tokens": 128}


def _routes(scripted: Server, litellm: Server) -> dict[str, tuple[Server, str, str]]:
    return {
        "llama-server openai": (scripted, "openai", "scripted"),
        "llama-server anthropic": (scripted, "anthropic", "scripted"),
        "litellm openai": (litellm, "openai", "scripted"),
        "litellm anthropic": (litellm, "anthropic", "scripted"),
    }


@pytest.mark.parametrize(
    "route",
    ["llama-server openai", "llama-server anthropic", "litellm openai", "litellm anthropic"],
)
def test_a_tool_call_then_a_valid_final_answer_in_one_run(
    route: str, scripted: Server, litellm: Server, tmp_path: Path, clean_env: Path
) -> None:
    server, wire, name = _routes(scripted, litellm)[route]
    path = crew(tmp_path, _model(server, wire, name), tools="flag", limits=TOOL_THEN_ANSWER)
    result, items = run_live(path, clean_env)
    assert result.status == "ok", result.reason
    first, second = calls(items)
    assert (first["status"], first["tool_calls"]) == ("ok", ["flag"])
    [tool] = of_type(items, "tool_call")
    assert (tool["tool"], tool["status"]) == ("flag", "ok")
    assert (second["status"], second["tool_calls"]) == ("ok", [])
    assert second["input_tokens"] > first["input_tokens"]  # the tool's result went back
    assert result.tasks["t"].data == {"decision": "approve"}
