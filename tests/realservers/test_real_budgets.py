"""Budgets against real servers: llama-server and the LiteLLM proxy, each through its OpenAI and
its Anthropic endpoint, with and without `max_tokens` on the model, under `max_tokens` and under
`max_cost_usd` (priced by a `prices:` override, so the cost is known).

Each case first measures one call's worst case as the guard takes it (a run whose limit is 1
stops before its first call, and its `limit_hit` names that worst case), then runs eight tasks
at once under a limit of two and a half worst cases: two calls fit and are in flight together,
the third would pass the limit, so the run stops (exit 3) with a `limit_hit`. The spend is
checked twice: as the run logged it (events.jsonl) and as the server reported it (the usage in
the response bodies recorded in llm.jsonl). The proxy serves model `tiny` by routing it to
llama-server, so its usage is a real count; its canned Anthropic usage is not (see the last
test).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from crewkit import of_type
from realcrew import DECISION, crew
from servers import Server
from typer.testing import CliRunner

from mas_cli.cli import app

TASKS = 8
LIMITS = ["max_tokens", "max_cost_usd"]
CAP = 64  # the model's max_tokens when set: room for either server's answer
PRICES = {"m": {"input": 1, "output": 2}}  # dollars per million tokens
PER_TOKEN = {"input": Decimal(1) / 10**6, "output": Decimal(2) / 10**6}
VERDICT = {
    "type": "object",
    "required": ["decision"],
    "additionalProperties": False,
    "properties": {"decision": {"type": "string", "enum": ["approve", "review", "block"]}},
}


def model(wire: str, url: str, capped: bool) -> dict[str, Any]:
    # Temperature 0 is greedy decoding on llama-server (and LiteLLM passes it on); seeded too.
    entry: dict[str, Any] = {"provider": wire, "model": "tiny", "base_url": url + "/v1"}
    entry["temperature"] = 0
    if wire == "openai":
        entry["params"] = {"seed": 7}
    if capped:
        entry["max_tokens"] = CAP
    return entry


def write(folder: Path, entry: dict[str, Any], limit: str, value: float) -> Path:
    path = crew(
        folder,
        entry,
        schema=VERDICT,
        limits={"max_concurrency": TASKS, limit: value, "max_turns": 2},
        prices=PRICES,
        process="parallel",
    )
    doc = json.loads(path.read_text())
    doc["tasks"] = [
        {**doc["tasks"][0], "id": f"t{i}", "prompt": f"Review account a-{i}."} for i in range(TASKS)
    ]
    path.write_text(json.dumps(doc))
    return path


def mas_run(path: Path, home: Path) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
    """`mas run` through the CLI: its exit code, and the run's events and llm.jsonl records."""
    before = set((home / "runs").glob("*")) if (home / "runs").exists() else set()
    result = CliRunner().invoke(app, ["run", str(path)])
    [run_dir] = set((home / "runs").glob("*")) - before
    return result.exit_code, _jsonl(run_dir / "events.jsonl"), _jsonl(run_dir / "llm.jsonl")


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def server_usage(record: dict[str, Any]) -> tuple[int, int]:
    """Input and output tokens as the server reported them, from the recorded response body."""
    usage = record["wire"]["response"]["usage"]
    if "prompt_tokens" in usage:  # OpenAI chat completions
        return usage["prompt_tokens"], usage["completion_tokens"]
    inputs = usage["input_tokens"] + (usage.get("cache_read_input_tokens") or 0)
    return inputs + (usage.get("cache_creation_input_tokens") or 0), usage["output_tokens"]


def spend(tokens: tuple[int, int], limit: str) -> Decimal:
    inputs, outputs = tokens
    if limit == "max_tokens":
        return Decimal(inputs + outputs)
    return inputs * PER_TOKEN["input"] + outputs * PER_TOKEN["output"]


def logged_spend(items: list[dict[str, Any]], limit: str) -> Decimal:
    """The run's spend as its run log says: the sum of its calls, and its total agrees."""
    made = of_type(items, "llm_call")
    [done] = of_type(items, "run_finished")
    if limit == "max_tokens":
        total = sum(c["input_tokens"] + c["output_tokens"] for c in made)
        assert total == done["input_tokens"] + done["output_tokens"]
        return Decimal(total)
    cost = sum(Decimal(str(c["cost_usd"])) for c in made)
    assert abs(cost - Decimal(str(done["cost_usd"]))) < Decimal("1e-9")
    return cost


@pytest.fixture(params=["llama", "litellm"])
def server(request: pytest.FixtureRequest) -> tuple[str, Server]:
    return request.param, request.getfixturevalue(request.param)


@dataclass(frozen=True)
class Case:
    wire: str  # openai (chat completions) or anthropic (/v1/messages)
    capped: bool  # max_tokens set on the model (else the 4096 default is sent)
    limit: str  # the run's budget: max_tokens or max_cost_usd


CASES = [Case(*c) for c in product(["openai", "anthropic"], [True, False], LIMITS)]


def case_id(case: Case) -> str:
    return f"{case.wire}-{'capped' if case.capped else 'uncapped'}-{case.limit}"


def probe_worst(folder: Path, entry: dict[str, Any], limit: str, home: Path) -> Decimal:
    """One call's worst case, as the guard takes it: a limit this low refuses the first call,
    and its limit_hit names the worst case. No call reaches the server."""
    low = 1e-9 if limit == "max_cost_usd" else 1
    code, items, records = mas_run(write(folder, entry, limit, low), home)
    [probe] = of_type(items, "limit_hit")
    assert (code, records, probe["kind"]) == (3, [], limit)
    return Decimal(str(probe["value"]))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_parallel_calls_never_spend_past_a_budget(
    server: tuple[str, Server], case: Case, tmp_path: Path, clean_env: Path
) -> None:
    name, running = server
    entry = model(case.wire, running.url, case.capped)
    worst = probe_worst(tmp_path / "probe", entry, case.limit, clean_env)
    # Two worst cases fit, a third does not: two calls in flight at once, then a stop.
    budget = float(worst * 5 / 2) if case.limit == "max_cost_usd" else int(worst * 5 / 2)
    limit = Decimal(str(budget))

    code, items, records = mas_run(write(tmp_path / "run", entry, case.limit, budget), clean_env)
    answered = [r for r in records if "response" in r]
    reported = sum((spend(server_usage(r), case.limit) for r in answered), Decimal(0))
    logged = logged_spend(items, case.limit)
    print(
        f"{name} {case_id(case)}: {len(answered)} calls, server {reported}, log {logged}, limit {limit}"
    )
    assert len(answered) >= 2, records
    assert reported == logged
    assert reported <= limit
    assert all(c["status"] == "ok" for c in of_type(items, "llm_call")), items
    hits = of_type(items, "limit_hit")
    assert [(h["kind"], h["scope"], h["threshold"]) for h in hits] == [(case.limit, "run", budget)]
    assert Decimal(str(hits[0]["value"])) > limit  # refused before it was made
    assert "would be passed" in hits[0]["message"]
    assert (code, of_type(items, "run_finished")[0]["status"]) == (3, "stopped")


def test_a_server_billing_past_the_budget_is_what_the_stop_says(
    litellm: Server, tmp_path: Path, clean_env: Path
) -> None:
    """LiteLLM's canned Anthropic answer reports 2095 input and 503 output tokens whatever the
    request: more than its body could hold and than the cap of 64 allows. No guard can stop a
    server billing that; the run must say it happened. Before the fix the stop named the first
    refusal ("max_tokens 1472 would be passed (1767)") while 5196 tokens had been billed."""
    entry = {"provider": "anthropic", "model": "canned", "base_url": litellm.url + "/v1"}
    path = write(tmp_path, {**entry, "max_tokens": CAP}, "max_tokens", 1472)
    doc = json.loads(path.read_text())
    for task in doc["tasks"]:
        task["output_schema"] = DECISION
    path.write_text(json.dumps(doc))
    code, items, records = mas_run(path, clean_env)
    billed = sum(sum(server_usage(r)) for r in records if "response" in r)
    [done] = of_type(items, "run_finished")
    assert billed == done["input_tokens"] + done["output_tokens"] > 1472
    assert code == 3
    assert done["reason"] == (
        f"stopped: max_tokens 1,472 was passed ({billed:,}) by agent analyst on task "
        f"{records[-1]['task']}"
    )
