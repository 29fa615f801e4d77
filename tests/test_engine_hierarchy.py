"""Hierarchical crews: delegation results flow back, every delegation guard fires at its threshold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from crewkit import events, of_type, run, write_crew
from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def crew(
    manager_turns: str, limits: str = "{}", worker_extra: str = "", worker_turns: str | None = None
) -> str:
    worker_script = f"\n    script: {{repeat: true, turns: {worker_turns}}}" if worker_turns else ""
    return f"""
name: h
description: Ship the release.
process: hierarchical
manager: boss
limits: {limits}
state: {{verdict: {{type: string}}}}
agents:
  boss:
    role: Boss
    model: offline
    script: {{turns: {manager_turns}}}
  worker:
    role: Worker
    model: offline{worker_extra}{worker_script}
  helper:
    role: Helper
    model: offline
tasks:
  - {{id: build, agent: worker, prompt: Build it.}}
  - id: decide
    prompt: Decide.
    output_schema: {{type: object, required: [verdict], properties: {{verdict: {{type: string}}}}}}
    writes: [verdict]
"""


def delegate(agent: str, instruction: str) -> str:
    return f"{{tool_calls: [{{name: delegate, arguments: {{agent: {agent}, instruction: '{instruction}'}}}}]}}"


def test_worker_answers_flow_back_to_the_manager(tmp_path: Path, clean_env: Path) -> None:
    turns = f"[{delegate('worker', 'Build the thing')}, {{data: {{verdict: shipped}}}}]"
    result = run(write_crew(tmp_path / "c", crew(turns)), clean_env)
    assert result.status == "ok"
    assert result.tasks["manage"].data == {"verdict": "shipped"}
    assert result.tasks["delegate-1"].agent == "worker"
    log = events(result)
    [call] = [c for c in of_type(log, "tool_call") if c["tool"] == "delegate"]
    assert call["status"] == "ok"
    worker_answer = result.tasks["delegate-1"].output
    assert (
        worker_answer == "worker on: Build thing"
    )  # the offline worker's answer to the instruction
    [write] = of_type(log, "state_write")
    assert (write["key"], write["value"], write["writer"], write["accepted"]) == (
        "verdict",
        "shipped",
        "manage",
        True,
    )


def test_handoff_events_and_spans(tmp_path: Path, clean_env: Path) -> None:
    turns = f"[{delegate('worker', 'Build it')}, {delegate('helper', 'Check it')}, {{text: done}}]"
    log = events(
        run(write_crew(tmp_path / "c", crew(turns).replace(", required: [verdict]", "")), clean_env)
    )
    handoffs = of_type(log, "handoff")
    assert [
        (h["from_agent"], h["to_agent"], h["delegation"], h["depth"], h["chain"]) for h in handoffs
    ] == [
        ("boss", "worker", "delegate-1", 1, ["boss", "worker"]),
        ("boss", "helper", "delegate-2", 1, ["boss", "helper"]),
    ]
    starts = {e["task"]: e for e in of_type(log, "task_started")}
    for handoff in handoffs:
        assert (
            starts[handoff["delegation"]]["parent_id"] == handoff["span_id"]
        )  # the worker hangs under it
    manager_turns = {
        (c["turn"]): c["parent_id"] for c in of_type(log, "llm_call") if c["task"] == "manage"
    }
    assert [h["parent_id"] for h in handoffs] == [manager_turns[1], manager_turns[2]]


def test_offline_manager_delegates_each_task_once_in_order(tmp_path: Path, clean_env: Path) -> None:
    text = crew("[]").replace("    script: {turns: []}\n", "")
    result = run(write_crew(tmp_path / "c", text), clean_env)
    handoffs = of_type(events(result), "handoff")
    assert [(h["to_agent"]) for h in handoffs] == [
        "worker",
        "worker",
    ]  # build's agent, then the first worker
    assert result.status == "ok"
    assert set(result.tasks["manage"].data) == {"verdict"}


def test_the_offline_manager_follows_the_crews_tasks_not_lines_of_its_prompt(
    tmp_path: Path, clean_env: Path
) -> None:
    """The plan is data: a line of the goal that reads like a task line is only words."""
    goal = "description: |\n  Ship the release.\n  - [audit] (agent: helper) Audit everything.\n"
    text = crew("[]").replace("    script: {turns: []}\n", "")
    text = text.replace("description: Ship the release.\n", goal)
    result = run(write_crew(tmp_path / "c", text), clean_env)
    handoffs = of_type(events(result), "handoff")
    assert [h["delegation"] for h in handoffs] == ["build", "decide"]
    assert result.status == "ok"


def test_delegate_is_a_tool_in_the_toolbox_of_each_agent_that_may_delegate(
    tmp_path: Path, clean_env: Path
) -> None:
    """Offered like any tool, with the workers of the agent offered it: the manager and a worker
    with allow_delegation get it, an agent without permission does not."""
    turns = f"[{delegate('worker', 'Build it')}, {delegate('helper', 'Check it')}, {{data: {{verdict: v}}}}]"
    text = crew(turns, worker_extra="\n    allow_delegation: true")
    result = run(write_crew(tmp_path / "c", text), clean_env)
    assert result.status == "ok"
    lines = (Path(result.run_dir) / "llm.jsonl").read_text(encoding="utf-8").splitlines()
    offered = {}
    for record in map(json.loads, lines):
        tools = record["request"]["tools"]
        offered[record["agent"]] = {
            t["name"]: t["parameters"]["properties"]["agent"]["enum"] for t in tools
        }
    assert offered == {
        "boss": {"delegate": ["worker", "helper"]},
        "worker": {"delegate": ["boss", "helper"]},
        "helper": {},
    }


def _hits(tmp_path: Path, home: Path, text: str) -> list[dict[str, object]]:
    return of_type(events(run(write_crew(tmp_path / "c", text), home)), "limit_hit")


@pytest.mark.parametrize(("limit", "fires"), [(2, True), (3, False)])
def test_max_delegations(tmp_path: Path, clean_env: Path, limit: int, fires: bool) -> None:
    turns = f"[{delegate('worker', 'a')}, {delegate('worker', 'b')}, {delegate('helper', 'c')}, {{data: {{verdict: v}}}}]"
    hits = _hits(tmp_path, clean_env, crew(turns, f"{{max_delegations: {limit}}}"))
    assert [(h["kind"], h["value"], h["threshold"]) for h in hits] == (
        [("max_delegations", 3, 2)] if fires else []
    )


@pytest.mark.parametrize(("limit", "fires"), [(1, True), (2, False)])
def test_identical_delegations(tmp_path: Path, clean_env: Path, limit: int, fires: bool) -> None:
    turns = (
        f"[{delegate('worker', 'same')}, {delegate('worker', 'same')}, {{data: {{verdict: v}}}}]"
    )
    hits = _hits(tmp_path, clean_env, crew(turns, f"{{max_identical_delegations: {limit}}}"))
    assert [(h["kind"], h["value"]) for h in hits] == (
        [("max_identical_delegations", 2)] if fires else []
    )


def test_workers_do_not_delegate_without_permission(tmp_path: Path, clean_env: Path) -> None:
    turns = f"[{delegate('worker', 'Build it')}, {{data: {{verdict: v}}}}]"
    result = run(
        write_crew(
            tmp_path / "c",
            crew(turns, worker_turns=f"[{delegate('helper', 'do it')}, {{text: ok}}]"),
        ),
        clean_env,
    )
    refused = [
        c
        for c in of_type(events(result), "tool_call")
        if c["task"] == "delegate-1" and c["tool"] == "delegate"
    ]
    assert refused[0]["status"] == "refused"
    assert refused[0]["error"] == "there is no tool 'delegate'; the tools you have are: none"


@pytest.mark.parametrize(("depth", "fires"), [(1, True), (2, False)])
def test_delegation_depth(tmp_path: Path, clean_env: Path, depth: int, fires: bool) -> None:
    turns = f"[{delegate('worker', 'Build it')}, {{data: {{verdict: v}}}}]"
    worker = f"[{delegate('helper', 'Build the part')}, {{text: built}}]"
    text = crew(turns, f"{{max_delegation_depth: {depth}}}", "\n    allow_delegation: true", worker)
    hits = _hits(tmp_path, clean_env, text)
    expected = [("max_delegation_depth", 2, 1, ["boss", "worker", "helper"])] if fires else []
    assert [(h["kind"], h["value"], h["threshold"], h["chain"]) for h in hits] == expected


def test_ping_pong_fires_on_the_fourth_agent_of_an_alternating_chain(
    tmp_path: Path, clean_env: Path
) -> None:
    boss = f"[{delegate('worker', 'Do it')}, {delegate('worker', 'No, you do it')}, {{data: {{verdict: v}}}}]"
    worker = f"[{delegate('boss', 'Need context, over to you')}, {{text: fine}}]"
    text = crew(boss, "{max_delegation_depth: 5}", "\n    allow_delegation: true", worker)
    result = run(write_crew(tmp_path / "c", text), clean_env)
    [hit] = of_type(events(result), "limit_hit")
    assert hit["kind"] == "delegation_ping_pong"
    assert hit["chain"] == ["boss", "worker", "boss", "worker"]
    assert hit["message"] == (
        "stopped: delegation ping-pong between boss and worker by agent boss on task delegate-2 "
        "(delegations: boss → worker → boss → worker)"
    )
    assert result.status == "stopped"
    assert len(of_type(events(result), "handoff")) == 2  # the third handoff never happened


def test_a_chain_of_three_is_not_ping_pong(tmp_path: Path, clean_env: Path) -> None:
    boss = f"[{delegate('worker', 'Do it')}, {{text: handled}}, {{data: {{verdict: v}}}}]"
    worker = f"[{delegate('boss', 'Need context, over to you')}, {{text: fine}}]"
    text = crew(boss, "{max_delegation_depth: 5}", "\n    allow_delegation: true", worker)
    result = run(write_crew(tmp_path / "c", text), clean_env)
    assert of_type(events(result), "limit_hit") == []
    assert result.status == "ok"


def test_manager_max_turns(tmp_path: Path, clean_env: Path) -> None:
    turns = f"[{delegate('worker', 'a')}, {delegate('worker', 'b')}, {delegate('worker', 'c')}]"
    text = crew(turns).replace("role: Boss\n", "role: Boss\n    max_turns: 2\n")
    result = run(write_crew(tmp_path / "c", text), clean_env)
    [hit] = of_type(events(result), "limit_hit")
    assert (hit["kind"], hit["agent"], hit["task"]) == ("max_turns", "boss", "manage")
    assert result.status == "stopped"


def test_inline_manager(tmp_path: Path, clean_env: Path) -> None:
    text = crew("[]").replace("manager: boss", "manager: {role: Inline boss, model: offline}")
    result = run(
        write_crew(
            tmp_path / "c",
            text.replace(
                "  boss:\n    role: Boss\n    model: offline\n    script: {turns: []}\n", ""
            ),
        ),
        clean_env,
    )
    assert result.tasks["manage"].agent == "manager"
    assert result.status == "ok"


def test_example_crews_through_the_cli() -> None:
    ok = runner.invoke(app, ["run", str(ROOT / "crews/hierarchical-report/crew.yaml"), "--offline"])
    assert ok.exit_code == 0, ok.stderr
    assert "── manage (editor) ok" in ok.stderr
    loop = runner.invoke(app, ["run", str(ROOT / "crews/delegation-ping-pong/crew.yaml")])
    assert loop.exit_code == 3
    assert loop.stderr.splitlines()[-1].startswith("run ")
    assert "stopped: delegation ping-pong between lead and dev" in loop.stderr.splitlines()[-1]
    tree = runner.invoke(app, ["show", "--last"]).stdout
    assert "handoff lead → dev (depth 1)" in tree
    assert "handoff dev → lead (depth 2)" in tree


def test_delegations_keep_the_task_names_the_manager_gives(tmp_path: Path, clean_env: Path) -> None:
    named = (
        "{tool_calls: [{name: delegate, arguments: {agent: worker, instruction: Go, task: build}}]}"
    )
    unknown = (
        "{tool_calls: [{name: delegate, arguments: {agent: helper, instruction: Hm, task: nope}}]}"
    )
    again = named.replace("instruction: Go", "instruction: Again")
    turns = f"[{named}, {again}, {unknown}, {{data: {{verdict: shipped}}}}]"
    result = run(write_crew(tmp_path / "c", crew(turns)), clean_env)
    assert result.status == "ok", result.reason
    assert list(result.tasks) == ["build", "build-2", "delegate-3", "manage"]
    assert [h["delegation"] for h in of_type(events(result), "handoff")] == [
        "build",
        "build-2",
        "delegate-3",
    ]


def test_example_hierarchical_crew_keeps_its_task_names() -> None:
    ok = runner.invoke(app, ["run", str(ROOT / "crews/hierarchical-report/crew.yaml"), "--offline"])
    assert ok.exit_code == 0, ok.stderr
    for task in ("research", "draft", "verdict"):
        assert f"▶ {task} (" in ok.stderr
    assert "delegate-" not in ok.stderr
    shown = runner.invoke(app, ["show", "--last"]).stdout
    assert "research (researcher) ok" in shown
    by_task = runner.invoke(app, ["cost-report", "--last", "--by", "task", "--json"]).stdout
    assert {"research", "draft", "verdict", "manage"} <= set(by_task.split('"'))


def test_the_offline_manager_follows_its_plan_as_data_not_its_prompt_text() -> None:
    """The offline manager read its task list back out of the prompt with a regex; it follows
    `Request.plan` now, so a prompt that lists other tasks, or none, changes nothing."""
    import asyncio

    from mas_cli.llm.delegation import delegate_tool, task_line
    from mas_cli.llm.offline import OfflineProvider
    from mas_cli.llm.types import Assignment, Message, Request
    from mas_cli.spec.model_spec import ModelSpec

    plan = (Assignment("write", "writer", "Write it."), Assignment("check", "critic", "Check."))
    decoy = task_line(Assignment("other", "critic", "Do something else."))
    model = ModelSpec(provider="offline", model="offline")
    asked = []
    for prompt in (decoy, "Work through your list.", "\n".join(map(task_line, plan))):
        request = Request(
            model=model,
            system="You manage.",
            messages=(Message(role="user", content=prompt),),
            tools=(delegate_tool(["writer", "critic"], ["write", "check"]),),
            plan=plan,
        )
        completion = asyncio.run(OfflineProvider(model).complete(request))
        asked.append([(c.name, c.arguments) for c in completion.message.tool_calls])
    first = [("delegate", {"agent": "writer", "instruction": "Write it.", "task": "write"})]
    assert asked == [first, first, first]


SHAPED_BUILD = (
    "  - {id: build, agent: worker, prompt: Build it.}",
    (
        "  - {id: build, agent: worker, prompt: Build it., max_retries: 1, output_schema: "
        "{type: object, required: [artifact], properties: {artifact: {type: string}}}}"
    ),
)


def test_a_delegation_named_after_a_task_answers_in_that_tasks_output_schema(
    tmp_path: Path, clean_env: Path
) -> None:
    """A non-last task's output_schema was silently ignored: the worker ran with none."""
    named = (
        "{tool_calls: [{name: delegate, arguments: {agent: worker, instruction: Go, task: build}}]}"
    )
    turns = f"[{named}, {{data: {{verdict: shipped}}}}]"
    result = run(write_crew(tmp_path / "c", crew(turns).replace(*SHAPED_BUILD)), clean_env)
    assert result.status == "ok", result.reason
    assert set(result.tasks["build"].data or {}) == {"artifact"}
    [call] = [c for c in of_type(events(result), "tool_call") if c["tool"] == "delegate"]
    assert call["status"] == "ok"


def test_a_worker_answer_that_misses_the_named_tasks_schema_is_an_error_for_the_manager(
    tmp_path: Path, clean_env: Path
) -> None:
    named = (
        "{tool_calls: [{name: delegate, arguments: {agent: worker, instruction: Go, task: build}}]}"
    )
    turns = f"[{named}, {{data: {{verdict: shipped}}}}]"
    text = crew(turns, worker_turns="[{text: no shape at all}]").replace(*SHAPED_BUILD)
    result = run(write_crew(tmp_path / "c", text), clean_env)
    assert result.tasks["build"].status == "failed"
    assert "output_schema" in (result.tasks["build"].reason or "")
    [call] = [c for c in of_type(events(result), "tool_call") if c["tool"] == "delegate"]
    assert call["status"] != "ok"


def test_the_delegation_limits_hold_at_the_defaults_the_readme_gives(
    tmp_path: Path, clean_env: Path
) -> None:
    """README: max_delegations default 10, max_identical_delegations default 1, with no limits set."""

    def call(i: int) -> str:
        who = "worker" if i % 2 else "helper"
        return f"{{name: delegate, arguments: {{agent: {who}, instruction: 'part {i}'}}}}"

    # Two delegations a turn, so the manager's max_turns (10) is not what stops it.
    pairs = ", ".join(f"{{tool_calls: [{call(i)}, {call(i + 1)}]}}" for i in range(0, 12, 2))
    log = events(
        run(write_crew(tmp_path / "many", crew(f"[{pairs}, {{data: {{verdict: v}}}}]")), clean_env)
    )
    assert len(of_type(log, "handoff")) == 10
    hits = of_type(log, "limit_hit")
    assert {(h["kind"], h["threshold"]) for h in hits} == {("max_delegations", 10)}
    assert hits[0]["value"] == 11
    same = f"[{delegate('worker', 'same')}, {delegate('worker', 'same')}, {{data: {{verdict: v}}}}]"
    hits = _hits(tmp_path / "same", clean_env, crew(same))
    assert [(h["kind"], h["value"], h["threshold"]) for h in hits] == [
        ("max_identical_delegations", 2, 1)
    ]


def test_a_worker_stopped_by_its_own_budget_inside_a_delegation_is_an_error_the_manager_reads(
    tmp_path: Path, clean_env: Path
) -> None:
    """README, Budgets: an agent's budget stops that agent's task; inside a delegation the
    manager reads it as a failed delegation, and the run ends as the manager's task does."""
    turns = f"[{delegate('worker', 'Build it')}, {{data: {{verdict: shipped}}}}]"
    text = crew(turns, worker_extra="\n    max_tokens: 1")
    result = run(write_crew(tmp_path / "c", text), clean_env)
    log = events(result)
    [hit] = of_type(log, "limit_hit")
    assert (hit["kind"], hit["scope"], hit["agent"]) == ("max_tokens", "agent", "worker")
    assert result.tasks["delegate-1"].status == "stopped"
    [call] = [c for c in of_type(log, "tool_call") if c["tool"] == "delegate"]
    assert call["status"] != "ok"
    assert result.status == "ok"  # the manager answered after reading the failure
    assert result.tasks["manage"].data == {"verdict": "shipped"}
