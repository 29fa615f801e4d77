"""The orchestrator on the offline model: the exact event sequence, spans, state and outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from crewkit import events, of_type, run, stable, write_crew

from mas_cli.cost.prices import data_version

SEQUENTIAL = """
    name: seq
    process: sequential
    inputs:
      account: {default: acct-7}
    state:
      risk: {type: number, minimum: 0, maximum: 1}
    tools:
      lookup:
        function: tools.py:lookup
        kind: deterministic
    agents:
      analyst: {role: Analyst, model: "openai:gpt-4o-mini", tools: [lookup]}
      judge: {role: Judge, model: offline}
    tasks:
      - {id: analyze, agent: analyst, prompt: "Look up account {account}."}
      - id: decide
        agent: judge
        prompt: "Decide on {analyze}."
        output_schema: {type: object, required: [risk], properties: {risk: {type: number, minimum: 0, maximum: 1}}}
        writes: [risk]
"""
TOOLS = '''
    def lookup(account_id: str) -> dict:
        """Look up an account."""
        return {"account_id": account_id, "risk": 0.25}
'''


def test_exact_event_sequence(tmp_path: Path, clean_env: Path) -> None:
    result = run(write_crew(tmp_path / "crew", SEQUENTIAL, tools__py=TOOLS), clean_env)
    assert result.status == "ok"
    got = stable(
        events(result),
        "crew_path",
        "limits",
        "prompt_digest",
        "output_digest",
        "output_shape",
        "output_varied",
        "result_digest",
    )
    base = {"v": 1}
    llm = {
        "type": "llm_call",
        "provider": "offline",
        "attempt": 1,
        "status": "ok",
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "usage_source": "estimate",
    }
    assert got == [
        {
            **base,
            "type": "run_started",
            "crew": "seq",
            "process": "sequential",
            "inputs": {"account": "acct-7"},
            "models": {"openai:gpt-4o-mini": "offline:gpt-4o-mini", "offline": "offline:offline"},
            "offline": True,
            "mas_version": "0.1.0",
        },
        {**base, "agent": "analyst", "task": "analyze", "type": "task_started", "depends_on": []},
        {
            **base,
            "agent": "analyst",
            "task": "analyze",
            "turn": 1,
            **llm,
            "model": "gpt-4o-mini",
            "input_tokens": 57,
            "output_tokens": 11,
            "cost_usd": 0.00001515,  # 57 x $0.15 + 11 x $0.60 per million
            "finish_reason": "tool_calls",
            "tool_calls": ["lookup"],
        },
        {
            **base,
            "agent": "analyst",
            "task": "analyze",
            "turn": 1,
            "type": "tool_call",
            "tool": "lookup",
            "tool_call_id": "call_1_0",
            "args_digest": "da8c4d277050d485",
            "status": "ok",
            "cached": False,
            # sha256 of the tool's name, code, output cap and canonical arguments: stable.
            "cache_key": "54aafff847edd0ade0669e05f0be9cd17fe12da564f931e958d663705d6281d3",
            "output_bytes": 38,
        },
        {
            **base,
            "agent": "analyst",
            "task": "analyze",
            "turn": 2,
            **llm,
            "model": "gpt-4o-mini",
            "input_tokens": 100,
            "output_tokens": 31,
            "cost_usd": 0.0000336,  # 100 x $0.15 + 31 x $0.60 per million
            "finish_reason": "stop",
            "tool_calls": [],
        },
        {
            **base,
            "agent": "analyst",
            "task": "analyze",
            "type": "task_finished",
            "status": "ok",
            "turns": 2,
            "input_tokens": 157,
            "output_tokens": 42,
        },
        {**base, "agent": "judge", "task": "decide", "type": "task_started", "depends_on": []},
        {
            **base,
            "agent": "judge",
            "task": "decide",
            "turn": 1,
            **llm,
            "model": "offline",
            "input_tokens": 120,
            "output_tokens": 10,
            "cost_usd": 0.0,  # the offline model itself is free
            "finish_reason": "stop",
            "tool_calls": [],
        },
        {
            **base,
            "agent": "judge",
            "task": "decide",
            "type": "state_write",
            "key": "risk",
            "value": 0.5,
            "read_version": 0,
            "version": 1,
            "writer": "decide",
            "accepted": True,
        },
        {
            **base,
            "agent": "judge",
            "task": "decide",
            "type": "task_finished",
            "status": "ok",
            "turns": 1,
            "input_tokens": 120,
            "output_tokens": 10,
        },
        {
            **base,
            "type": "run_finished",
            "status": "ok",
            "llm_calls": 3,
            "tool_calls": 1,
            "input_tokens": 277,
            "output_tokens": 52,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "cost_usd": 0.00004875,
            "tasks": {"ok": 2},
            "price_data_version": data_version(),
        },
    ]


def test_volatile_fields_are_well_formed_and_spans_nest(tmp_path: Path, clean_env: Path) -> None:
    result = run(write_crew(tmp_path / "crew", SEQUENTIAL, tools__py=TOOLS), clean_env)
    log = events(result)
    assert {e["run_id"] for e in log} == {result.run_id}
    assert len({e["trace_id"] for e in log}) == 1
    assert all(re.fullmatch(r"[0-9a-f]{32}", e["trace_id"]) for e in log)
    assert all(re.fullmatch(r"[0-9a-f]{16}", e["span_id"]) for e in log)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", e["ts"]) for e in log)
    assert [e["ts"] for e in log] == sorted(e["ts"] for e in log)
    run_span = log[0]["span_id"]
    assert "parent_id" not in log[0]
    assert log[-1]["span_id"] == run_span  # run_started and run_finished are one span
    tasks = {e["task"]: e["span_id"] for e in of_type(log, "task_started")}
    assert all(e["parent_id"] == run_span for e in of_type(log, "task_started"))
    assert all(e["span_id"] == tasks[e["task"]] for e in of_type(log, "task_finished"))
    turn_parent = {(e["task"], e["turn"]): e["parent_id"] for e in of_type(log, "llm_call")}
    assert all(
        turn_parent[(e["task"], e["turn"])] == e["parent_id"] for e in of_type(log, "tool_call")
    )
    assert len(set(turn_parent.values())) == 3  # one span per turn


def test_run_folder_holds_output_and_state(tmp_path: Path, clean_env: Path) -> None:
    result = run(write_crew(tmp_path / "crew", SEQUENTIAL, tools__py=TOOLS), clean_env)
    folder = Path(result.run_dir)
    assert folder.parent == clean_env / "runs"
    output = json.loads((folder / "output.json").read_text())
    assert output["status"] == "ok"
    assert output["tasks"]["decide"]["data"] == {"risk": 0.5}
    assert output["tasks"]["analyze"]["output"] == (
        'analyst on: Look up account acct-7\n- lookup: {"account_id": "acct-7", "risk": 0.25}'
    )
    state = json.loads((folder / "state.json").read_text())
    assert state == {"risk": {"value": 0.5, "version": 1, "writer": "decide"}}


def test_offline_default_uses_tool_results_for_schema_fields(
    tmp_path: Path, clean_env: Path
) -> None:
    crew = SEQUENTIAL.replace(
        "judge: {role: Judge, model: offline}",
        "judge: {role: Judge, model: offline, tools: [lookup]}",
    )
    result = run(write_crew(tmp_path / "crew", crew, tools__py=TOOLS), clean_env)
    assert result.tasks["decide"].data == {"risk": 0.25}  # from the tool result, not made up


def test_prompts_see_inputs_outputs_and_state(tmp_path: Path, clean_env: Path) -> None:
    crew = """
        name: prompts
        inputs: {topic: {default: loops}}
        state: {verdict: {type: string}}
        agents:
          a:
            role: A
            model: offline
            script: [{data: {verdict: looping}}]
          b:
            role: B
            model: offline
            script: [{text: done}]
        tasks:
          - id: first
            agent: a
            prompt: "On {topic}."
            output_schema: {type: object, properties: {verdict: {type: string}}}
            writes: [verdict]
          - {id: second, agent: b, prompt: "Topic {topic}; verdict {first.verdict}; state {verdict}; all {first}."}
    """
    result = run(write_crew(tmp_path / "c", crew), clean_env)
    assert result.status == "ok"
    from mas_cli.engine.prompts import task_prompt
    from mas_cli.spec.loader import load_crew

    spec = load_crew(tmp_path / "c" / "crew.yaml").spec
    rendered = task_prompt(
        spec.task("second"),
        {"topic": "loops", "verdict": "looping", "first": {"verdict": "looping"}},
    )
    assert rendered == 'Topic loops; verdict looping; state looping; all {"verdict": "looping"}.'


def test_prompt_values_name_an_output_before_a_state_key_before_an_input() -> None:
    # A view over the run's outputs, state and inputs (no copy per task): it must answer as
    # the merged dict it replaced did, the structured output over the text, None kept.
    from mas_cli.engine.context import _PromptValues
    from mas_cli.engine.outcomes import TaskOutcome

    outcomes = {
        "t": TaskOutcome("t", "a", "ok", "text", {"x": 1}),
        "u": TaskOutcome("u", "a", "ok", "plain"),
        "v": TaskOutcome("v", "a", "failed"),
    }
    state = {"t": "state t", "s": None, "k": "state k"}
    inputs = {"t": "input t", "k": "input k", "i": 0}
    values = _PromptValues(outcomes, state, inputs)
    merged = {**inputs, **state, "t": {"x": 1}, "u": "plain", "v": None}
    assert dict(values) == merged
    assert len(values) == len(merged)
    assert [values[name] for name in merged] == list(merged.values())
    assert "s" in values
    assert "missing" not in values
    with pytest.raises(KeyError):
        values["missing"]


def test_missing_required_input_is_a_usage_error(tmp_path: Path, clean_env: Path) -> None:
    import pytest

    from mas_cli.errors import UsageError

    crew = """
        name: needs
        inputs: {ticket: {description: The customer's message, required: true}}
        agents: {a: {role: A, model: offline}}
        tasks: [{id: t, agent: a, prompt: "Answer {ticket}."}]
    """
    path = write_crew(tmp_path / "c", crew)
    with pytest.raises(UsageError) as caught:
        run(path, clean_env)
    assert str(caught.value) == (
        "missing required input: ticket: The customer's message (give --input ticket=...)"
    )
    with pytest.raises(UsageError, match="unknown input: tickets"):
        run(path, clean_env, inputs={"tickets": "x"})
    assert not (clean_env / "runs").exists()  # nothing was started
