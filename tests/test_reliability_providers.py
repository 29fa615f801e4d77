"""Reliability under provider faults: a server that fails most requests, in every way providers do.

Whatever the server does, a run ends (ok, failed or stopped), never passes its circuit breaker
or its budget, and logs every attempt the server saw.
"""

from __future__ import annotations

import json
import random
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fakeserver import (
    ANTHROPIC,
    OPENAI,
    FakeServer,
    Reply,
    anthropic_error,
    anthropic_text,
    error,
    openai_text,
    openai_tools,
)
from typer.testing import CliRunner

from mas_cli.cli import app

runner = CliRunner()
MAX_CALLS = 24
MAX_COST = 0.02


def _faults(rng: random.Random, route: str) -> Reply | None:
    """Most requests fail: 429 with or without retry-after, 5xx and 529 bursts, timeouts."""
    roll = rng.random()
    if roll < 0.2:
        return error(429, "rate limited", kind="rate_limit_error", headers={"retry-after": "0.01"})
    if roll < 0.35:
        return error(429, "rate limited", kind="rate_limit_error")
    if roll < 0.5:
        return error(rng.choice([500, 502, 503]), "server error")
    if roll < 0.58 and route == ANTHROPIC:
        return anthropic_error(529, "overloaded_error", "Overloaded")
    if roll < 0.66:
        return Reply(delay_s=1.0, json={})  # slower than llm_timeout_s
    return None


def _chaos(server: FakeServer, seed: int) -> None:
    rng = random.Random(seed)
    lock = threading.Lock()

    def openai(body: Any) -> Reply:
        with lock:
            fault = _faults(rng, OPENAI)
        if fault:
            return fault
        answered = any(m.get("role") == "tool" for m in body.get("messages", []))
        if body.get("tools") and not answered:
            return openai_tools(("lookup_account", '{"account_id": "acct-7"}'))
        return openai_text('{"decision": "review", "fraud_score": 0.5}')

    def anthropic(body: Any) -> Reply:
        with lock:
            fault = _faults(rng, ANTHROPIC)
        return fault or anthropic_text('{"decision": "block", "fraud_score": 0.9}')

    server.openai.handler = openai
    server.anthropic.handler = anthropic


def _crew(tmp_path: Path, server: FakeServer, dear: bool) -> Path:
    (tmp_path / "tools.py").write_text(
        'def lookup_account(account_id: str) -> dict:\n    """Look it up."""\n    return {"id": account_id}\n'
    )
    model = {"base_url": server.url + "/v1", "api_key_env": "MAS_TEST_KEY"}
    doc = {
        "name": "chaos",
        "process": "parallel",
        "models": {
            "fast": {"provider": "openai", "model": "gpt-4o-mini", "max_tokens": 50, **model},
            "careful": {
                "provider": "anthropic",
                "model": "claude-sonnet-4-6",
                "max_tokens": 256,
                "base_url": server.url,
                "api_key_env": "MAS_TEST_KEY",
            },
        },
        "prices": {"gpt-4o-mini": {"input": 100 if dear else 0.15, "output": 100 if dear else 0.6}},
        "limits": {
            "max_llm_calls": MAX_CALLS,
            "max_cost_usd": MAX_COST,
            "max_retries": 3,
            "retry_backoff_s": 0.01,
            "llm_timeout_s": 0.3,
            "max_turns": 4,
        },
        "tools": {"lookup_account": {"function": "tools.py:lookup_account"}},
        "agents": {
            "a": {"role": "A", "model": "fast", "tools": ["lookup_account"]},
            "b": {"role": "B", "model": "careful"},
        },
        "tasks": [
            {"id": f"t{i}", "agent": "a" if i % 2 else "b", "prompt": f"Review case {i}."}
            for i in range(6)
        ],
    }
    path = tmp_path / "crew.yaml"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("seed", "dear"), [(1, False), (2, False), (3, False), (4, True), (5, True)]
)
def test_a_faulty_provider_never_breaks_the_guards(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch, seed: int, dear: bool
) -> None:
    monkeypatch.setenv("MAS_TEST_KEY", "sk-test")
    with FakeServer() as server:
        _chaos(server, seed)
        result = runner.invoke(app, ["run", str(_crew(tmp_path, server, dear)), "--quiet"])
        seen = len(server.requests(OPENAI)) + len(server.requests(ANTHROPIC))
    assert result.exit_code in (0, 1, 3), result.output
    assert "Traceback" not in result.output
    [folder] = (clean_env / "runs").iterdir()
    log = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    calls = [e for e in log if e["type"] == "llm_call"]
    reached = [c for c in calls if c["status"] != "cancelled"]
    assert len(reached) <= seen <= len(calls)  # every attempt the server saw is in the log
    assert len(calls) <= MAX_CALLS  # the circuit breaker held, retries included
    spent = sum(Decimal(str(c.get("cost_usd") or 0)) for c in calls)
    assert spent <= Decimal(str(MAX_COST))
    assert log[-1]["type"] == "run_finished"
    assert log[-1]["llm_calls"] == len(calls)
    for call in calls:  # attempts number up from 1 within each turn
        previous = [c for c in calls if (c["task"], c["turn"]) == (call["task"], call["turn"])]
        assert [c["attempt"] for c in previous] == list(range(1, len(previous) + 1))
    faults = [c for c in calls if c["status"] != "ok"]
    assert faults or dear, "the chaos server should have failed some calls"
    hits = {e["kind"] for e in log if e["type"] == "limit_hit"}
    assert hits <= {"max_llm_calls", "max_cost_usd", "max_turns"}
    if dear:  # at $100 per million tokens the budget, not the faults, ends the run
        assert "max_cost_usd" in hits
        assert result.exit_code == 3
