"""Limits hold calls before they start, and a run winding down lets calls that fit finish.

Attacks: many side-effect calls asked for in one turn, the same from tasks running at once,
more model calls in flight than the breaker allows, and a stop that cuts a billed call short.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from crewkit import events, of_type, run

from mas_cli.engine.guards import Guard
from mas_cli.llm.types import CallSite
from mas_cli.spec.models import CrewSpec

TOOLS = '''
import pathlib
import time


def send(text: str) -> str:
    """Send a message: a side effect, one line in sent.txt per call."""
    with pathlib.Path(__file__).with_name("sent.txt").open("a") as f:
        f.write(text + "\\n")
    time.sleep(0.1)
    return "sent"
'''


def crew(folder: Path, limits: dict[str, Any], turns: list[Any], tasks: int = 1) -> Path:
    """One offline agent (priced as claude-sonnet-4-5) playing `turns`, on `tasks` tasks at once."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tools.py").write_text(TOOLS)
    spec = {
        "name": "limits",
        "process": "parallel",
        "models": {"m": {"provider": "offline", "model": "claude-sonnet-4-5", "max_tokens": 64}},
        "limits": {"max_concurrency": 8, "max_identical_tool_calls": 50, **limits},
        "tools": {"send": {"function": "tools.py:send", "kind": "side_effect"}},
        "agents": {
            "a": {
                "role": "A",
                "model": "m",
                "tools": ["send"],
                "script": {"repeat": True, "turns": turns},
            }
        },
        "tasks": [{"id": f"t{i}", "agent": "a", "prompt": "Go."} for i in range(tasks)],
    }
    path = folder / "crew.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def sent(folder: Path) -> list[str]:
    path = folder / "sent.txt"
    return path.read_text().splitlines() if path.exists() else []


def send_calls(n: int) -> dict[str, Any]:
    return {"tool_calls": [{"name": "send", "arguments": {"text": f"m{i}"}} for i in range(n)]}


def test_many_side_effect_calls_in_one_turn_never_pass_max_tool_calls(
    tmp_path: Path, clean_env: Path
) -> None:
    result = run(crew(tmp_path, {"max_tool_calls": 5}, [send_calls(30)]), clean_env)
    assert len(sent(tmp_path)) == 5  # the five that fit ran; the other 25 never started
    log = events(result)
    assert len(of_type(log, "tool_call")) == 5
    [hit] = of_type(log, "limit_hit")
    assert (hit["kind"], hit["value"], hit["threshold"]) == ("max_tool_calls", 6, 5)
    assert result.status == "stopped"
    assert log[-1]["tool_calls"] == 5


def test_parallel_tasks_never_pass_max_tool_calls_together(tmp_path: Path, clean_env: Path) -> None:
    turns = [{**send_calls(1), "delay_s": 0.05}]
    result = run(crew(tmp_path, {"max_tool_calls": 3}, turns, tasks=8), clean_env)
    assert len(sent(tmp_path)) == 3  # calls let through finish; none past the limit starts
    log = events(result)
    assert [e["status"] for e in of_type(log, "tool_call")] == ["ok"] * 3
    assert log[-1]["tool_calls"] == 3
    assert result.status == "stopped"


def test_calls_that_fit_the_breaker_finish_when_others_are_refused(
    tmp_path: Path, clean_env: Path
) -> None:
    turns = [{"text": "answer", "delay_s": 0.3}]
    result = run(crew(tmp_path, {"max_llm_calls": 5}, turns, tasks=8), clean_env)
    log = events(result)
    assert [c["status"] for c in of_type(log, "llm_call")] == ["ok"] * 5
    statuses = [o.status for o in result.tasks.values()]
    assert statuses.count("ok") == 5  # today 0: the first refusal cancelled every call in flight
    assert {s for s in statuses if s != "ok"} <= {"stopped", "skipped"}
    assert {h["kind"] for h in of_type(log, "limit_hit")} == {"max_llm_calls"}
    assert result.status == "stopped"


@pytest.mark.parametrize(
    ("limits", "status"),
    [
        ({"run_timeout_s": 0.3}, "cancelled"),  # cut short by a stop
        ({"llm_timeout_s": 0.2, "max_retries": 1, "retry_backoff_s": 0}, "timeout"),  # we hung up
    ],
)
def test_a_call_cut_short_keeps_its_worst_case_cost(
    tmp_path: Path, clean_env: Path, limits: dict[str, Any], status: str
) -> None:
    turns = [{"text": "late", "delay_s": 30}]
    log = events(run(crew(tmp_path, limits, turns, tasks=2), clean_env))
    calls = of_type(log, "llm_call")
    assert {c["status"] for c in calls} == {status}
    # The server may have billed it: at least the 64-token output cap at $15 per million.
    assert all(c["cost_usd"] is not None and c["cost_usd"] > 64 * 15e-6 for c in calls)
    total = sum(Decimal(str(c["cost_usd"])) for c in calls)
    assert Decimal(str(log[-1]["cost_usd"])) == total


def test_a_budget_already_passed_is_not_said_to_be_one_that_would_be() -> None:
    spec = CrewSpec.model_validate(
        {
            "name": "g",
            "models": {"m": {"provider": "openai", "model": "gpt-4o-mini"}},
            "limits": {"max_cost_usd": 0.05},
            "agents": {"a": {"role": "r", "model": "m"}},
            "tasks": [{"id": "t", "agent": "a", "prompt": "p"}],
        }
    )
    guard = Guard(spec)
    assert guard.check_llm_call(CallSite("a", "t"), 1_000, Decimal("0.01")) is None
    # A server that billed past the call's bound: the budget was passed, not "would be".
    hit = guard.record_llm_call(
        CallSite("a", "t"), 900, Decimal("0.065555"), (1_000, Decimal("0.01"))
    )
    assert hit is not None
    assert "max_cost_usd 0.05 was passed (0.065555)" in hit.message
