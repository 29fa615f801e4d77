"""Shared state, output validation, parallel scheduling and history trimming."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from crewkit import events, of_type, run, write_crew
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.engine.state import SharedState
from mas_cli.engine.trimming import trim
from mas_cli.llm.types import Message, ToolCall
from mas_cli.spec.loader import load_crew

RACE = """
    name: race
    process: parallel
    state: {decision: {type: string, enum: [approve, block]}}
    agents:
      fast:
        role: Fast
        model: offline
        script: [{data: {decision: approve}}]
      slow:
        role: Slow
        model: offline
        script: [{data: {decision: block}, delay_s: 0.3}]
    tasks:
      - {id: quick, agent: fast, prompt: Decide., output_schema: {type: object}, writes: [decision]}
      - {id: late, agent: slow, prompt: Decide., output_schema: {type: object}, writes: [decision]}
"""


def test_a_stale_write_is_refused_never_silently_applied(tmp_path: Path, clean_env: Path) -> None:
    result = run(write_crew(tmp_path / "c", RACE), clean_env)
    writes = of_type(events(result), "state_write")
    assert [(w["task"], w["accepted"], w["read_version"], w.get("version")) for w in writes] == [
        ("quick", True, 0, 1),
        ("late", False, 0, None),
    ]
    assert writes[1]["reason"] == (
        "conflict: 'decision' is at version 1 (written by task 'quick') but task 'late' read version 0"
    )
    assert result.tasks["late"].status == "failed"
    state = json.loads((Path(result.run_dir) / "state.json").read_text())
    assert state["decision"] == {"value": "approve", "version": 1, "writer": "quick"}


def test_a_write_that_breaks_the_key_schema_is_refused(tmp_path: Path, clean_env: Path) -> None:
    crew = RACE.replace("data: {decision: block}", "data: {decision: maybe}").replace(
        "- {id: quick", "- {id: quick, depends_on: [late]"
    )
    result = run(
        write_crew(tmp_path / "c", crew.replace("process: parallel", "process: parallel")),
        clean_env,
    )
    late = next(w for w in of_type(events(result), "state_write") if w["task"] == "late")
    assert late["accepted"] is False
    assert (
        late["reason"]
        == "'maybe' is not valid for 'decision': 'maybe' is not one of ['approve', 'block']"
    )


def test_state_refuses_undeclared_writers_and_unknown_keys(tmp_path: Path) -> None:
    path = write_crew(tmp_path / "c", RACE)
    state = SharedState(load_crew(path).spec)
    assert state.write("decision", "approve", 0, "intruder").reason == (
        "task 'intruder' does not declare 'decision' in writes"
    )
    assert state.write("verdict", "x", 0, "quick").reason == "'verdict' is not a declared state key"
    assert state.write("decision", "approve", 0, "quick").version == 1
    assert state.write("decision", "block", 1, "late").version == 2  # read the latest: accepted
    assert state.get("decision").writer == "late"


VALIDATED = """
    name: validated
    agents:
      a:
        role: A
        model: offline
        script: {turns: SCRIPT}
    tasks:
      - id: t
        agent: a
        prompt: Score it.
        max_retries: 1
        output_schema: {type: object, required: [score], properties: {score: {type: number, maximum: 1}}}
"""


def test_invalid_output_is_reasked_with_the_errors(tmp_path: Path, clean_env: Path) -> None:
    script = "[{text: 'not json'}, {data: {score: 0.4}}]"
    result = run(write_crew(tmp_path / "c", VALIDATED.replace("SCRIPT", script)), clean_env)
    log = events(result)
    [retry] = of_type(log, "retry")
    assert retry["what"] == "output_validation"
    assert retry["reason"] == "the answer is not JSON (Expecting value at line 1 column 1)"
    assert result.tasks["t"].status == "ok"
    assert result.tasks["t"].data == {"score": 0.4}


def test_output_that_never_validates_fails_the_task_with_the_errors(
    tmp_path: Path, clean_env: Path
) -> None:
    script = "[{data: {score: 3}}, {data: {points: 1}}]"
    result = run(write_crew(tmp_path / "c", VALIDATED.replace("SCRIPT", script)), clean_env)
    assert result.tasks["t"].status == "failed"
    assert (
        result.tasks["t"].reason
        == "output does not match output_schema: (root): 'score' is a required property"
    )
    assert (
        of_type(events(result), "retry")[0]["reason"] == "score: 3 is greater than the maximum of 1"
    )
    assert result.status == "failed"


def test_fenced_json_is_accepted(tmp_path: Path, clean_env: Path) -> None:
    script = '[{text: "```json\\n{\\"score\\": 0.9}\\n```"}]'
    result = run(write_crew(tmp_path / "c", VALIDATED.replace("SCRIPT", script)), clean_env)
    assert result.tasks["t"].data == {"score": 0.9}


DIAMOND = """
    name: diamond
    process: parallel
    limits: {max_concurrency: CONCURRENCY}
    agents:
      slow:
        role: Slow
        model: offline
        script: {repeat: true, turns: [{text: done, delay_s: 0.4}]}
    tasks:
      - {id: left, agent: slow, prompt: Left.}
      - {id: right, agent: slow, prompt: Right.}
      - {id: join, agent: slow, prompt: "Join {left} {right}.", depends_on: [left, right]}
"""


def _spans(path: Path, home: Path) -> dict[str, tuple[datetime, datetime]]:
    log = events(run(path, home))
    start = {e["task"]: datetime.fromisoformat(e["ts"]) for e in of_type(log, "task_started")}
    end = {e["task"]: datetime.fromisoformat(e["ts"]) for e in of_type(log, "task_finished")}
    return {t: (start[t], end[t]) for t in start}


def test_independent_tasks_overlap_and_dependents_wait(tmp_path: Path, clean_env: Path) -> None:
    spans = _spans(write_crew(tmp_path / "c", DIAMOND.replace("CONCURRENCY", "4")), clean_env)
    (l0, l1), (r0, r1), (j0, _) = spans["left"], spans["right"], spans["join"]
    assert l0 < r1  # left and right ran at the same time
    assert r0 < l1
    assert j0 >= max(l1, r1)  # join started after both finished


def test_max_concurrency_bounds_parallel_tasks(tmp_path: Path, clean_env: Path) -> None:
    spans = _spans(write_crew(tmp_path / "c", DIAMOND.replace("CONCURRENCY", "1")), clean_env)
    (l0, l1), (r0, r1) = spans["left"], spans["right"]
    assert l1 <= r0 or r1 <= l0  # one at a time


def test_sequential_crews_run_in_file_order_one_at_a_time(tmp_path: Path, clean_env: Path) -> None:
    crew = DIAMOND.replace("process: parallel", "process: sequential").replace(
        ", depends_on: [left, right]", ""
    )
    spans = _spans(write_crew(tmp_path / "c", crew.replace("CONCURRENCY", "4")), clean_env)
    order = sorted(spans, key=lambda t: spans[t][0])
    assert order == ["left", "right", "join"]
    assert spans["left"][1] <= spans["right"][0] <= spans["right"][1] <= spans["join"][0]


def _exchange(i: int, size: int) -> list[Message]:
    call = ToolCall(id=f"c{i}", name="search", arguments={"q": i})
    return [
        Message("assistant", tool_calls=(call,)),
        Message("tool", "x " * size, tool_call_id=f"c{i}"),
    ]


def test_trim_drops_oldest_exchanges_only() -> None:
    messages = (Message("user", "task"), *_exchange(1, 100), *_exchange(2, 100), *_exchange(3, 100))
    words = lambda ms: sum(len(m.content.split()) for m in ms)  # noqa: E731
    trimmed = trim(messages, 250, words)
    assert trimmed.dropped == 2
    assert trimmed.messages[0].content == "task"
    assert [m.tool_call_id for m in trimmed.messages if m.role == "tool"] == ["c2", "c3"]
    floor = trim(messages, 1, words)  # never below the task prompt and the latest exchange
    assert [m.role for m in floor.messages] == ["user", "assistant", "tool"]
    assert floor.messages[-1].tool_call_id == "c3"


@pytest.mark.parametrize("limit", [400, 100_000])
def test_history_trimming_in_a_run(tmp_path: Path, clean_env: Path, limit: int) -> None:
    crew = f"""
        name: long
        limits: {{max_history_tokens: {limit}, max_identical_tool_calls: 10}}
        tools: {{big: {{function: tools.py:big}}}}
        agents:
          a:
            role: A
            model: offline
            tools: [big]
            script:
              - tool_calls: [{{name: big, arguments: {{n: 1}}}}]
              - tool_calls: [{{name: big, arguments: {{n: 2}}}}]
              - tool_calls: [{{name: big, arguments: {{n: 3}}}}]
              - text: done
        tasks: [{{id: t, agent: a, prompt: Read everything.}}]
    """
    tools = 'def big(n: int) -> str:\n    """Big output."""\n    return f"page {n} " + "lorem ipsum " * 60\n'
    log = events(run(write_crew(tmp_path / "c", crew, tools__py=tools), clean_env))
    trims = of_type(log, "history_trimmed")
    if limit > 1000:
        assert trims == []
        return
    assert [t["dropped_messages"] for t in trims] == [2, 2]
    assert all(t["tokens_after"] < t["tokens_before"] for t in trims)
    inputs = [c["input_tokens"] for c in of_type(log, "llm_call")]
    assert max(inputs) < 600  # the conversation stayed near its limit


PAIR = """
    name: pair
    state:
      decision: {type: string, enum: [approve, block]}
      score: {type: number, maximum: 1}
    agents:
      judge:
        role: Judge
        model: offline
        script: [{data: {decision: approve, score: 7}}]
    tasks:
      - {id: decide, agent: judge, prompt: Decide., output_schema: {type: object},
         writes: [decision, score]}
"""


def test_a_task_whose_write_is_refused_writes_no_key(tmp_path: Path, clean_env: Path) -> None:
    result = run(write_crew(tmp_path / "c", PAIR), clean_env)
    assert result.tasks["decide"].status == "failed"
    writes = {w["key"]: w for w in of_type(events(result), "state_write")}
    assert writes["score"]["accepted"] is False
    assert writes["decision"]["accepted"] is False  # not half-applied beside the refused one
    assert (
        writes["decision"]["reason"]
        == "not written: the write of 'score' by task 'decide' was refused"
    )
    state = json.loads((Path(result.run_dir) / "state.json").read_text())
    assert state["decision"] == {"value": None, "version": 0, "writer": None}


def test_the_writes_a_refusal_undid_are_not_reported_as_refusals(
    tmp_path: Path, clean_env: Path
) -> None:
    """`triage state --log` reports the one refused write, not the write it undid: `decision`
    was valid, and advice to make it satisfy its schema would be false."""
    result = run(write_crew(tmp_path / "c", PAIR), clean_env)
    run_dir = Path(result.run_dir)
    state, log = str(run_dir / "state.json"), str(run_dir / "events.jsonl")
    out = CliRunner().invoke(app, ["triage", "state", state, "--log", log, "--json"])
    refused = [p["key"] for p in json.loads(out.stdout)["problems"] if p["kind"] == "refused"]
    assert refused == ["score"]
    progress = CliRunner().invoke(app, ["run", str(tmp_path / "c" / "crew.yaml"), "--offline"])
    assert "state decision refused" not in progress.stderr
    assert "state score refused" in progress.stderr


OPTIONAL = """
    name: optional
    state: {note: {type: [string, "null"]}}
    agents:
      first:
        role: First
        model: offline
        script: [{data: {note: keep me}}]
      second:
        role: Second
        model: offline
        script: [{data: {}}]
    tasks:
      - id: write
        agent: first
        prompt: Note.
        output_schema: {type: object, properties: {note: {type: string}}}
        writes: [note]
      - id: rewrite
        agent: second
        prompt: Note again.
        output_schema: {type: object, properties: {note: {type: string}}}
        writes: [note]
"""


def test_a_field_missing_from_the_output_never_writes_null(tmp_path: Path, clean_env: Path) -> None:
    """An optional field the answer leaves out writes nothing: the key keeps its value (it
    was overwritten with null), and the task, whose answer is valid, does not fail."""
    result = run(write_crew(tmp_path / "c", OPTIONAL), clean_env)
    late = [w for w in of_type(events(result), "state_write") if w["task"] == "rewrite"]
    assert [(w["accepted"], w["reason"]) for w in late] == [
        (False, "not written: the output has no field 'note' for 'note'")
    ]
    assert result.tasks["rewrite"].status == "ok"
    state = json.loads((Path(result.run_dir) / "state.json").read_text())
    assert state["note"] == {"value": "keep me", "version": 1, "writer": "write"}
