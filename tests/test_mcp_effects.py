"""A side_effect MCP tool gets its call's idempotency key: in the tools/call request's `_meta`
(`mas/idempotency_key`), and as the `idempotency_key` argument when its input schema declares
one (which the model is then not shown), over stdio and over streamable HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from crewkit import events, of_type, run
from mcpkit import crew_text, http_server, stdio_server, write

TURNS = """\
    - tool_calls: [{name: srv.deliver, arguments: {to: ana}}]
    - tool_calls: [{name: srv.deliver, arguments: {to: ana}}]
    - text: done
"""


def _deliveries(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "deliveries.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_a_side_effect_mcp_call_carries_its_key(
    tmp_path: Path, clean_env: Path, transport: str
) -> None:
    folder = tmp_path / "c"
    kind = "kind: {deliver: side_effect}\n"
    with http_server(folder) as url:
        tools = (
            stdio_server(kind) if transport == "stdio" else f"srv:\n  mcp: {{url: {url}}}\n  {kind}"
        )
        result = run(write(folder, crew_text(tools, TURNS)), clean_env)
    assert result.status == "ok", result.reason
    calls = of_type(events(result), "tool_call")
    keys = [c["idempotency_key"] for c in calls]
    assert len(set(keys)) == 2  # the second call is the same call's second occurrence
    got = _deliveries(folder)
    assert [(d["argument"], d["meta"]) for d in got] == [(k, k) for k in keys]
    offered = json.loads((Path(result.run_dir) / "llm.jsonl").read_text().splitlines()[0])
    (deliver,) = [t for t in offered["request"]["tools"] if t["name"] == "srv__deliver"]
    assert "idempotency_key" not in json.dumps(deliver)  # the model never fills it in


def test_a_call_that_is_no_side_effect_gets_no_key(tmp_path: Path, clean_env: Path) -> None:
    folder = tmp_path / "c"
    result = run(write(folder, crew_text(stdio_server("kind: live\n"), TURNS)), clean_env)
    assert result.status == "ok", result.reason
    assert [(d["argument"], d["meta"]) for d in _deliveries(folder)] == [(None, None)] * 2
