"""Budgets: the guard refuses a call whose worst case could pass a cap; validate and --estimate."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.engine.guards import Guard
from mas_cli.events.models import EVENT_ADAPTER, AnyEvent, LimitHitEvent, LlmCall, RunFinished
from mas_cli.llm.types import CallSite
from mas_cli.spec.models import CrewSpec

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
D = Decimal

TOOLS = '''
import pathlib


def note(text: str) -> str:
    """Take a note."""
    return "noted: " + text


def send(text: str) -> str:
    """Send a message (a side effect: it leaves a file behind)."""
    pathlib.Path(__file__).with_name("sent.txt").write_text(text)
    return "sent"
'''


def write_crew(folder: Path, limits: dict[str, Any], **agent: Any) -> Path:
    """A one-agent crew on the offline model standing in for claude-sonnet-4-5 (priced)."""
    (folder / "tools.py").write_text(TOOLS)
    turns = [
        {"tool_calls": [{"name": "note", "arguments": {"text": f"step {i}"}}]} for i in range(4)
    ]
    spec = {
        "name": "budgeted",
        "models": {"m": {"provider": "offline", "model": "claude-sonnet-4-5", "max_tokens": 1024}},
        "limits": {"max_turns": 30, "max_identical_tool_calls": 30, **limits},
        "tools": {
            "note": {"function": "tools.py:note", "kind": "live"},
            "send": {"function": "tools.py:send", "kind": "side_effect"},
        },
        "agents": {
            "writer": {"role": "Writer", "model": "m", "tools": ["note"], **agent},
        },
        "tasks": [{"id": "write", "agent": "writer", "prompt": "Write notes."}],
    }
    spec["agents"]["writer"].setdefault("script", {"repeat": True, "turns": turns})
    path = folder / "crew.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def events(home: Path) -> list[AnyEvent]:
    (log,) = home.glob("runs/*/events.jsonl")
    return [EVENT_ADAPTER.validate_json(line) for line in log.read_bytes().splitlines()]


def test_the_call_that_could_pass_the_cap_is_refused_before_it_is_made(
    tmp_path: Path, clean_env: Path
) -> None:
    cap = D("0.05")
    crew = write_crew(tmp_path, {"max_cost_usd": float(cap)})
    result = runner.invoke(app, ["run", str(crew), "--quiet"])
    assert result.exit_code == 3, result.stderr
    assert "max_cost_usd 0.05 would be passed" in result.stderr

    log = events(clean_env)
    calls = [e for e in log if isinstance(e, LlmCall)]
    (hit,) = [e for e in log if isinstance(e, LimitHitEvent)]
    done = log[-1]
    assert isinstance(done, RunFinished)
    spent = sum(D(str(c.cost_usd)) for c in calls)
    # Every call made was priced; what they spent is the run's total, within the cap.
    assert done.cost_usd is not None
    assert D(str(done.cost_usd)) == spent <= cap
    # The refused call never happened: no llm_call after the hit, and its turn has none.
    assert log.index(hit) > log.index(calls[-1])
    assert hit.turn is None or hit.turn > (calls[-1].turn or 0)
    assert (hit.kind, hit.scope, hit.threshold) == ("max_cost_usd", "run", 0.05)
    # It was refused because its worst case could pass the cap, though spending was below it.
    worst = D(str(hit.value)) - spent
    assert D(str(hit.value)) > cap
    assert worst > D("0.0154")  # at least 1,024 output tokens at $15 per million
    assert len(calls) >= 2


def test_an_agent_token_budget_is_checked_against_the_worst_case(
    tmp_path: Path, clean_env: Path
) -> None:
    crew = write_crew(tmp_path, {}, max_tokens=2_500)
    result = runner.invoke(app, ["run", str(crew), "--quiet"])
    assert result.exit_code == 3
    log = events(clean_env)
    (hit,) = [e for e in log if isinstance(e, LimitHitEvent)]
    assert (hit.kind, hit.scope) == ("max_tokens", "agent")
    used = sum(c.input_tokens + c.output_tokens for c in log if isinstance(c, LlmCall))
    assert used <= 2_500 < hit.value


def spec(limits: dict[str, Any]) -> CrewSpec:
    return CrewSpec.model_validate(
        {
            "name": "g",
            "models": {"m": {"provider": "openai", "model": "gpt-4o-mini"}},
            "limits": limits,
            "agents": {"a": {"role": "r", "model": "m"}, "b": {"role": "r", "model": "m"}},
            "tasks": [{"id": "t", "agent": "a", "prompt": "p"}],
        }
    )


def test_calls_in_flight_hold_their_worst_case() -> None:
    guard = Guard(spec({"max_cost_usd": 0.01}))
    assert guard.check_llm_call(CallSite("a", "t"), 1_000, D("0.006")) is None
    # A second call at the same time could pass the cap together with the first.
    hit = guard.check_llm_call(CallSite("b", "u"), 1_000, D("0.006"))
    assert hit is not None
    assert (hit.kind, hit.value) == ("max_cost_usd", 0.012)
    # Once the first settles at what it really cost, the second fits.
    assert guard.record_llm_call(CallSite("a", "t"), 300, D("0.0005"), (1_000, D("0.006"))) is None
    assert guard.check_llm_call(CallSite("b", "u"), 1_000, D("0.006")) is None
    assert guard.run.cost_usd == D("0.0005")
    assert guard.run.held_cost == D("0.006")


def test_an_unknown_price_holds_no_dollars_but_still_counts_tokens() -> None:
    guard = Guard(spec({"max_tokens": 1_500}))
    assert guard.check_llm_call(CallSite("a", "t"), 1_000, None) is None
    hit = guard.check_llm_call(CallSite("b", "u"), 1_000, None)
    assert hit is not None
    assert hit.kind == "max_tokens"


def test_validate_prints_the_worst_case_for_the_whole_run() -> None:
    crew = str(ROOT / "crews/fraud-review/crew.yaml")
    text = runner.invoke(app, ["validate", crew])
    assert text.exit_code == 0
    # 30 calls x (100,000 input at the 3.75 cache-write rate + 1,024 output at 15) per million
    assert (
        "worst case  30 calls × $0.3904 per call (aggregator on claude-sonnet-4-6: "
        "100,000 in + 1,024 out) = $11.71; max_cost_usd $1.00 stops the run first"
    ) in text.stdout
    doc = json.loads(runner.invoke(app, ["validate", "--json", crew]).stdout)
    worst = doc[0]["worst_case"]
    assert worst["worst_case_usd"] == 11.7108
    assert worst["max_cost_usd"] == 1.0
    assert {a["agent"]: a["per_call"] for a in worst["agents"]} == {
        "analyzer": 0.0174576,  # 100,000 x 0.15 + 4,096 x 0.60
        "scorer": 0.0174576,
        "aggregator": 0.39036,
    }


def test_validate_says_when_the_worst_case_is_unknown(tmp_path: Path) -> None:
    crew = tmp_path / "crew.yaml"
    crew.write_text(
        "name: local\nmodels: {l: {provider: openai, model: llama3.1:8b, base_url: 'http://h/v1'}}\n"
        "agents: {a: {role: r, model: l}}\ntasks: [{id: t, agent: a, prompt: p}]\n"
    )
    result = runner.invoke(app, ["validate", str(crew)])
    assert result.exit_code == 0
    assert "worst case  unknown: no price for llama3.1:8b (add it under prices:)" in result.stdout


def test_validate_warns_about_a_price_for_no_model(tmp_path: Path) -> None:
    crew = tmp_path / "crew.yaml"
    crew.write_text(
        "name: typo\nmodels: {m: openai:gpt-4o-mini}\nprices: {gpt-4o-mnii: {input: 1, output: 2}}\n"
        "agents: {a: {role: r, model: m}}\ntasks: [{id: t, agent: a, prompt: p}]\n"
    )
    result = runner.invoke(app, ["validate", str(crew)])
    assert "prices.gpt-4o-mnii: no model of this crew is named 'gpt-4o-mnii'" in result.stderr
    assert "did you mean 'gpt-4o-mini'?" in result.stderr


def test_estimate_prices_an_offline_dry_run_and_keeps_nothing(clean_env: Path) -> None:
    crew = str(ROOT / "crews/fraud-review/crew.yaml")
    result = runner.invoke(app, ["run", crew, "--estimate", "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert "estimate: an offline dry run, no provider called" in result.stdout
    assert "expected cost $0.00" in result.stdout
    assert "worst case  30 calls" in result.stdout
    assert not list(clean_env.glob("runs/*"))


def test_estimate_never_runs_side_effect_tools(tmp_path: Path) -> None:
    crew = write_crew(tmp_path, {}, tools=["send"], script=None)
    assert runner.invoke(app, ["run", str(crew), "--estimate", "--json"]).exit_code == 0
    assert not (tmp_path / "sent.txt").exists()
    # The same crew run for real (offline) does call it.
    assert runner.invoke(app, ["run", str(crew), "--quiet"]).exit_code == 0
    assert (tmp_path / "sent.txt").read_text()


def test_estimate_json_has_the_report_and_the_bound() -> None:
    crew = str(ROOT / "crews/fraud-review/crew.yaml")
    doc = json.loads(runner.invoke(app, ["run", crew, "--estimate", "--json", "--quiet"]).stdout)
    assert doc["estimate"]["total"]["cost_usd"] > 0
    assert doc["worst_case"]["worst_case_usd"] == 11.7108


def test_an_unpriced_model_is_flagged_in_the_run_the_log_and_the_report(
    tmp_path: Path, clean_env: Path
) -> None:
    crew = tmp_path / "crew.yaml"
    crew.write_text(
        "name: local\nmodels: {l: {provider: offline, model: my-local-model}}\n"
        "agents: {a: {role: r, model: l}}\ntasks: [{id: t, agent: a, prompt: p}]\n"
    )
    run = runner.invoke(app, ["run", str(crew)])
    assert run.exit_code == 0
    assert "warning: no price for model my-local-model: its cost is unknown" in run.stderr
    assert "cost unknown" in run.stderr
    log = events(clean_env)
    assert [e.cost_usd for e in log if isinstance(e, LlmCall)] == [None]
    done = log[-1]
    assert isinstance(done, RunFinished)
    assert done.cost_usd is None
    report = runner.invoke(app, ["cost-report", "--last"])
    assert "unknown" in report.stdout.splitlines()[2]
    assert "! unknown cost: 1 of 1 model calls (my-local-model) have no price" in report.stdout
