"""Every guard: it fires at its threshold, not below, and says which limit, where, and why."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest
from crewkit import events, of_type, run, write_crew

from mas_cli.engine.outcomes import KINDS, LimitKind
from mas_cli.spec.models import Limits

TOOLS = '''
    import time

    def echo(text: str) -> str:
        """Echo the text."""
        return text

    def counter(n: int) -> int:
        """Return n."""
        return n

    def nap(seconds: float) -> str:
        """Sleep."""
        time.sleep(seconds)
        return "rested"
'''


def looping_crew(limits: str, turns: str, repeat: bool = True, extra_task: bool = True) -> str:
    """One agent that calls a tool every turn (as scripted), and a task that depends on it."""
    second = (
        "\n  - {id: after, agent: b, prompt: 'Use {work}.', depends_on: [work]}"
        if extra_task
        else ""
    )
    return f"""
name: loop
process: parallel
limits: {limits}
tools:
  echo: {{function: tools.py:echo}}
  counter: {{function: tools.py:counter}}
  nap: {{function: tools.py:nap, timeout_s: 30}}
agents:
  a:
    role: A
    model: offline
    tools: [echo, counter, nap]
    script:
      repeat: {str(repeat).lower()}
      turns: {turns}
  b: {{role: B, model: offline}}
tasks:
  - {{id: work, agent: a, prompt: Work.}}{second}
"""


def run_loop(
    tmp_path: Path, home: Path, limits: str, turns: str, **kw: bool
) -> tuple[object, list[dict[str, object]]]:
    result = run(
        write_crew(tmp_path / "c", looping_crew(limits, turns, **kw), tools__py=TOOLS), home
    )
    return result, events(result)


COUNTING = "[{tool_calls: [{name: counter, arguments: {n: 1}}]}, {tool_calls: [{name: counter, arguments: {n: 2}}]}]"


@pytest.mark.parametrize(("max_turns", "expected_calls"), [(3, 3), (5, 5)])
def test_max_turns_stops_the_task_and_skips_dependents(
    tmp_path: Path, clean_env: Path, max_turns: int, expected_calls: int
) -> None:
    result, log = run_loop(tmp_path, clean_env, f"{{max_turns: {max_turns}}}", COUNTING)
    assert len(of_type(log, "llm_call")) == expected_calls
    [hit] = of_type(log, "limit_hit")
    assert (hit["kind"], hit["value"], hit["threshold"], hit["scope"]) == (
        "max_turns",
        max_turns + 1,
        max_turns,
        "task",
    )
    assert hit["message"] == f"stopped: max_turns {max_turns} reached by agent a on task work"
    assert result.status == "stopped"  # type: ignore[attr-defined]
    tasks = {e["task"]: e for e in of_type(log, "task_finished")}
    assert tasks["work"]["status"] == "stopped"
    assert (tasks["after"]["status"], tasks["after"]["reason"]) == (
        "skipped",
        "'work' did not finish (stopped)",
    )


def test_circuit_breaker_stops_the_whole_run(tmp_path: Path, clean_env: Path) -> None:
    result, log = run_loop(tmp_path, clean_env, "{max_turns: 50, max_llm_calls: 4}", COUNTING)
    assert len(of_type(log, "llm_call")) == 4
    [hit] = of_type(log, "limit_hit")
    assert (
        hit["message"]
        == "stopped: max_llm_calls 4 reached (circuit breaker) by agent a on task work"
    )
    assert hit["scope"] == "run"
    assert log[-1]["type"] == "run_finished"
    assert log[-1]["reason"] == hit["message"]
    assert result.status == "stopped"  # type: ignore[attr-defined]


def test_max_tool_calls(tmp_path: Path, clean_env: Path) -> None:
    _, log = run_loop(tmp_path, clean_env, "{max_turns: 50, max_tool_calls: 3}", COUNTING)
    assert len(of_type(log, "tool_call")) == 3
    [hit] = of_type(log, "limit_hit")
    assert (hit["kind"], hit["value"], hit["threshold"]) == ("max_tool_calls", 4, 3)


@pytest.mark.parametrize(("threshold", "calls"), [(2, 2), (3, 3)])
def test_identical_tool_calls(tmp_path: Path, clean_env: Path, threshold: int, calls: int) -> None:
    same = "[{tool_calls: [{name: echo, arguments: {text: again}}]}]"
    # the same arguments every turn; the no-progress check is pushed out of the way by a changing tool
    turns = (
        same
        if threshold == 2
        else "[{tool_calls: [{name: echo, arguments: {text: again}}]}, " + COUNTING[1:]
    )
    limits = f"{{max_turns: 50, max_identical_tool_calls: {threshold}}}"
    _, log = run_loop(tmp_path, clean_env, limits, turns)
    echoes = [e for e in of_type(log, "tool_call") if e["tool"] == "echo"]
    assert len(echoes) == calls
    [hit] = of_type(log, "limit_hit")
    assert (hit["kind"], hit["value"], hit["threshold"], hit["scope"]) == (
        "max_identical_tool_calls",
        threshold + 1,
        threshold,
        "task",
    )


def test_no_progress_same_call_same_result(tmp_path: Path, clean_env: Path) -> None:
    same = "[{tool_calls: [{name: echo, arguments: {text: again}}]}]"
    _, log = run_loop(tmp_path, clean_env, "{max_turns: 50, max_identical_tool_calls: 10}", same)
    [hit] = of_type(log, "limit_hit")
    assert hit["kind"] == "no_progress"
    assert (
        hit["message"]
        == "stopped: no progress: the same answer or tool result 3 turns running by agent a on task work"
    )
    assert len(of_type(log, "tool_call")) == 3


def test_no_progress_does_not_fire_when_results_change(tmp_path: Path, clean_env: Path) -> None:
    _, log = run_loop(tmp_path, clean_env, "{max_turns: 6}", COUNTING)
    assert [h["kind"] for h in of_type(log, "limit_hit")] == ["max_turns"]


def test_run_token_budget_refuses_the_call_before_it_is_made(
    tmp_path: Path, clean_env: Path
) -> None:
    result, log = run_loop(tmp_path, clean_env, "{max_tokens: 500}", COUNTING)
    assert of_type(log, "llm_call") == []  # worst case (input + 4096 planned output) > 500
    [hit] = of_type(log, "limit_hit")
    assert hit["kind"] == "max_tokens"
    assert hit["scope"] == "run"
    assert hit["value"] > 4096
    assert result.status == "stopped"  # type: ignore[attr-defined]


def test_token_budget_is_never_passed(tmp_path: Path, clean_env: Path) -> None:
    crew = """
        name: budget
        models: {small: {provider: offline, model: offline, max_tokens: 50}}
        limits: {max_turns: 50, max_tokens: 8000, max_identical_tool_calls: 50}
        tools: {counter: {function: tools.py:counter}}
        agents:
          a:
            role: A
            model: small
            tools: [counter]
            script:
              repeat: true
              turns: [{tool_calls: [{name: counter, arguments: {n: 1}}]}, {tool_calls: [{name: counter, arguments: {n: 2}}]}]
        tasks: [{id: work, agent: a, prompt: Work.}]
    """
    log = events(run(write_crew(tmp_path / "c", crew, tools__py=TOOLS), clean_env))
    spent = sum(e["input_tokens"] + e["output_tokens"] for e in of_type(log, "llm_call"))
    [hit] = of_type(log, "limit_hit")
    assert hit["kind"] == "max_tokens"
    assert len(of_type(log, "llm_call")) > 3
    assert spent <= 8000  # never past the budget
    assert hit["value"] > 8000  # the refused call, at its worst, could have passed it


def test_agent_call_budget(tmp_path: Path, clean_env: Path) -> None:
    crew = looping_crew("{max_turns: 50}", COUNTING).replace(
        "role: A\n", "role: A\n    max_llm_calls: 2\n"
    )
    log = events(run(write_crew(tmp_path / "c", crew, tools__py=TOOLS), clean_env))
    [hit] = of_type(log, "limit_hit")
    assert (hit["kind"], hit["scope"]) == ("max_llm_calls", "agent")
    assert hit["message"] == "stopped: max_llm_calls 2 for agent a reached by agent a on task work"


def test_task_timeout_cancels_a_slow_tool(tmp_path: Path, clean_env: Path) -> None:
    turns = "[{tool_calls: [{name: nap, arguments: {seconds: 20}}]}]"
    result, log = run_loop(tmp_path, clean_env, "{task_timeout_s: 0.5}", turns)
    [hit] = of_type(log, "limit_hit")
    assert (hit["kind"], hit["threshold"], hit["scope"]) == ("task_timeout_s", 0.5, "task")
    assert hit["message"].startswith("stopped: task_timeout_s 0.5 passed after 0.")
    assert result.tasks["work"].status == "stopped"  # type: ignore[attr-defined]


def test_run_timeout_stops_everything(tmp_path: Path, clean_env: Path) -> None:
    turns = "[{tool_calls: [{name: nap, arguments: {seconds: 20}}]}]"
    result, log = run_loop(tmp_path, clean_env, "{run_timeout_s: 0.5}", turns)
    [hit] = of_type(log, "limit_hit")
    assert (hit["kind"], hit["scope"]) == ("run_timeout_s", "run")
    assert result.status == "stopped"  # type: ignore[attr-defined]
    statuses = {e["task"]: e["status"] for e in of_type(log, "task_finished")}
    assert statuses == {"work": "cancelled", "after": "skipped"}
    assert log[-1]["type"] == "run_finished"


def test_llm_timeout_is_retried_then_fails_the_task(tmp_path: Path, clean_env: Path) -> None:
    turns = "[{text: late, delay_s: 10}]"
    result, log = run_loop(
        tmp_path, clean_env, "{llm_timeout_s: 0.2, max_retries: 1, retry_backoff_s: 0}", turns
    )
    calls = of_type(log, "llm_call")
    assert [(c["attempt"], c["status"]) for c in calls] == [(1, "timeout"), (2, "timeout")]
    assert [r["what"] for r in of_type(log, "retry")] == ["llm_call"]
    work = result.tasks["work"]  # type: ignore[attr-defined]
    assert (work.status, work.reason) == (
        "failed",
        "model call failed: no answer within llm_timeout_s 0.2",
    )
    assert result.status == "failed"  # type: ignore[attr-defined]


def test_retryable_errors_are_retried_and_counted(tmp_path: Path, clean_env: Path) -> None:
    turns = "[{error: {status: 429, message: slow down, retry_after_s: 0}}, {error: {status: 503}}, {text: fine}]"
    result, log = run_loop(
        tmp_path, clean_env, "{retry_backoff_s: 0}", turns, repeat=False, extra_task=False
    )
    calls = of_type(log, "llm_call")
    assert [(c["attempt"], c["status"], c.get("http_status")) for c in calls] == [
        (1, "error", 429),
        (2, "error", 503),
        (3, "ok", None),
    ]
    assert result.status == "ok"  # type: ignore[attr-defined]
    assert log[-1]["llm_calls"] == 3  # every attempt counts against the circuit breaker


def test_non_retryable_errors_fail_at_once(tmp_path: Path, clean_env: Path) -> None:
    turns = "[{error: {status: 401, message: bad key}}, {text: never}]"
    result, log = run_loop(
        tmp_path, clean_env, "{retry_backoff_s: 0}", turns, repeat=False, extra_task=False
    )
    assert len(of_type(log, "llm_call")) == 1
    assert result.tasks["work"].reason == "model call failed: scripted failure: 401 bad key"  # type: ignore[attr-defined]


def test_a_script_that_runs_out_fails_loudly(tmp_path: Path, clean_env: Path) -> None:
    turns = "[{tool_calls: [{name: echo, arguments: {text: one}}]}]"
    result, _ = run_loop(tmp_path, clean_env, "{}", turns, repeat=False, extra_task=False)
    assert result.tasks["work"].reason == (  # type: ignore[attr-defined]
        "model call failed: the offline script of agent 'a' ran out after 1 turn "
        "(add turns to agents.a.script, or set repeat: true)"
    )


def test_tool_errors_and_unknown_tools_go_back_to_the_model(
    tmp_path: Path, clean_env: Path
) -> None:
    turns = (
        "[{tool_calls: [{name: counter, arguments: {n: not-a-number}}, {name: search, arguments: {}}]},"
        " {text: recovered}]"
    )
    result, log = run_loop(tmp_path, clean_env, "{}", turns, repeat=False, extra_task=False)
    calls = of_type(log, "tool_call")
    assert [(c["tool"], c["status"]) for c in calls] == [
        ("counter", "error"),
        ("search", "refused"),
    ]
    assert (
        calls[1]["error"] == "there is no tool 'search'; the tools you have are: counter, echo, nap"
    )
    assert result.status == "ok"  # type: ignore[attr-defined]


def test_circuit_breaker_counts_calls_in_flight(tmp_path: Path, clean_env: Path) -> None:
    slow = "[{tool_calls: [{name: counter, arguments: {n: 1}}], delay_s: 0.2}, {tool_calls: [{name: counter, arguments: {n: 2}}], delay_s: 0.2}]"
    crew = f"""
        name: wide
        process: parallel
        limits: {{max_turns: 50, max_llm_calls: 6, max_concurrency: 4, max_identical_tool_calls: 50}}
        tools: {{counter: {{function: tools.py:counter}}}}
        agents:
          a: {{role: A, model: offline, tools: [counter], script: {{repeat: true, turns: {slow}}}}}
        tasks: [{{id: w1, agent: a, prompt: W.}}, {{id: w2, agent: a, prompt: W.}}, {{id: w3, agent: a, prompt: W.}}, {{id: w4, agent: a, prompt: W.}}]
    """
    log = events(run(write_crew(tmp_path / "c", crew, tools__py=TOOLS), clean_env))
    calls = of_type(log, "llm_call")
    assert len(calls) == 6  # four tasks in flight at once never push the breaker past 6
    assert log[-1]["llm_calls"] == 6
    assert [h["kind"] for h in of_type(log, "limit_hit")] == ["max_llm_calls"]


def test_every_limit_kind_has_its_properties_and_every_guarded_limit_is_a_kind() -> None:
    """The kind of a limit hit is one Literal whose properties live in one table: a kind added
    to either alone, or a crew limit a guard enforces without a kind, fails here."""
    assert set(get_args(LimitKind)) == set(KINDS)
    not_guards = {"llm_timeout_s", "max_retries", "retry_backoff_s", "max_retry_wait_s"}
    not_guards |= {"max_history_tokens", "max_concurrency"}  # shape the work, stop nothing
    assert set(Limits.model_fields) - not_guards <= set(KINDS)
    assert all(KINDS[k].run_wide for k in KINDS if KINDS[k].breaker or KINDS[k].cuts_short)
