"""Cycles among agents: one finding that names the loop, on every path and every format."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from triage_logs import jsonl, llm, mas_event, otlp_line, otlp_span, run, tool
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.triage.cycles import MAX_CARRIERS, CycleScreen
from mas_cli.triage.findings import Finding
from mas_cli.triage.scan import ScanOptions, scan
from mas_cli.triage.thresholds import Thresholds

ROOT = Path(__file__).resolve().parent.parent
AGENTS = ("scorer", "critic", "judge")
runner = CliRunner()


def both_paths(tmp_path: Path, events: list[dict], **overrides: int) -> list[Finding]:
    """The findings on the fast path (plain events.jsonl), checked equal to the record path's."""
    text = jsonl(events)
    plain, packed = tmp_path / "events.jsonl", tmp_path / "events.jsonl.gz"
    plain.write_text(text)
    packed.write_bytes(gzip.compress(text.encode()))
    options = ScanOptions(thresholds=Thresholds(**overrides))
    fast, slow = scan([str(plain)], options).findings, scan([str(packed)], options).findings
    assert sorted(map(repr, fast)) == sorted(map(repr, slow))
    return fast


def loops(found: list[Finding]) -> list[Finding]:
    return [f for f in found if f.detector in ("cycle", "ping_pong")]


def rescoring(rounds: int, extra: int = 0) -> list[dict]:
    """Three agents each asking for a rescore in turn, with a model call before each request."""
    events, n = [], 0
    for step in range(rounds * 3 + extra):
        agent = AGENTS[step % 3]
        n += 1
        events.append(llm(n, agent=agent, task=agent, output_digest=f"o{n}"))
        n += 1
        asks = f"{agent} asks for round {step // 3 % 2}"  # the same two requests, again and again
        events.append(tool(n, "request_rescore", args=asks, agent=agent, task=agent))
    return events


def test_a_cycle_of_three_agents_through_a_tool_is_one_finding(tmp_path: Path) -> None:
    assert not loops(both_paths(tmp_path, run(*rescoring(2, extra=2))))
    [hit] = loops(both_paths(tmp_path, run(*rescoring(3))))
    assert (hit.detector, hit.severity, hit.agent) == ("cycle", "warning", "scorer")
    assert "agents scorer, critic, judge went round in a cycle 3 times" in hit.message
    assert "through tool request_rescore" in hit.message
    assert hit.pattern == "scorer → critic → judge → scorer ×3"
    assert hit.first_ts == "2026-11-21T02:00:02.000000Z"  # the first round's first request
    assert hit.tokens == 8 * 110  # the model calls between the first and the last request
    assert "finalized flag" in hit.fix
    assert "agents.scorer.max_turns, agents.critic.max_turns, agents.judge.max_turns" in hit.fix
    [worse] = loops(both_paths(tmp_path, run(*rescoring(6))))
    assert worse.severity == "error"
    assert "3 rounds" not in both_paths(tmp_path, run(*rescoring(3)), cycle_rounds=4)


def test_agents_with_tools_of_their_own_make_no_cycle(tmp_path: Path) -> None:
    events = [
        tool(n, f"tool_{AGENTS[n % 3]}", args="same", agent=AGENTS[n % 3], task=AGENTS[n % 3])
        for n in range(1, 19)
    ]
    assert not loops(both_paths(tmp_path, run(*events)))


def test_agents_sharing_a_tool_for_new_work_make_no_cycle(tmp_path: Path) -> None:
    """Parallel workers taking turns on one search tool, each call asking something new."""
    events = [
        tool(n, "search", args=f"query {n}", agent=AGENTS[n % 3], task=AGENTS[n % 3])
        for n in range(1, 19)
    ]
    assert not loops(both_paths(tmp_path, run(*events)))


def test_a_cycle_carried_by_a_state_key(tmp_path: Path) -> None:
    writes = [
        mas_event("state_write", n, agent=AGENTS[n % 3], key="fraud_score", writer=AGENTS[n % 3])
        for n in range(9)
    ]
    [hit] = loops(both_paths(tmp_path, run(*writes)))
    assert hit.pattern == "scorer → critic → judge → scorer ×3"
    assert "through state key fraud_score" in hit.message
    assert "give state key fraud_score one owner" in hit.fix
    two = [
        mas_event("state_write", n, agent=AGENTS[n % 2], key="decision", writer=AGENTS[n % 2])
        for n in range(6)
    ]
    [pong] = loops(both_paths(tmp_path, run(*two)))
    assert (pong.detector, pong.pattern) == ("ping_pong", "scorer ⇄ critic ×6")


@pytest.mark.parametrize(("agents", "fires"), [(6, True), (7, False)])
def test_cycles_among_up_to_six_agents(tmp_path: Path, agents: int, fires: bool) -> None:
    names = [f"agent{i}" for i in range(agents)]
    steps = [
        tool(n, "relay", args=names[n % agents], agent=names[n % agents], task="t")
        for n in range(3 * agents)
    ]
    found = loops(both_paths(tmp_path, run(*steps)))
    assert [f.pattern.endswith("×3") for f in found] == ([True] if fires else [])


def test_a_cycle_of_handoffs_and_its_invocations_is_reported_once(tmp_path: Path) -> None:
    events = []
    for n in range(9):
        giver, taker = AGENTS[n % 3], AGENTS[(n + 1) % 3]
        events.append(mas_event("handoff", 2 * n, agent=giver, from_agent=giver, to_agent=taker))
        events.append(mas_event("task_started", 2 * n + 1, agent=taker, task=f"delegate-{n}"))
    [hit] = loops(both_paths(tmp_path, run(*events)))
    assert "through handoffs (delegations)" in hit.message
    assert hit.pattern.startswith("scorer → critic → judge → scorer ×")


def test_two_agents_are_a_ping_pong_not_also_a_cycle(tmp_path: Path) -> None:
    pairs = [
        tool(
            n,
            "review",
            args=("scorer", "critic")[n % 2],
            agent=("scorer", "critic")[n % 2],
            task="t",
        )
        for n in range(1, 7)
    ]
    [hit] = loops(both_paths(tmp_path, run(*pairs)))
    assert hit.detector == "ping_pong"
    assert "took turns 6 times through tool review" in hit.message


def test_the_screen_stays_bounded_on_a_new_carrier_every_line() -> None:
    screen = CycleScreen(pair=6, ring=9)
    fired = [screen.step(f"tool{i}", "a") for i in range(MAX_CARRIERS + 2)]
    assert fired[-1]  # past the carriers tracked, the trace goes to the judgement
    assert not any(fired[:MAX_CARRIERS])


def test_a_cycle_on_an_otlp_trace_with_agent_names(tmp_path: Path) -> None:
    spans = [
        otlp_span(
            f"{n + 1:016x}",
            "00f067aa0ba902b7",
            "execute_tool request_rescore",
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.agent.name": AGENTS[n % 3],
                "gen_ai.tool.name": "request_rescore",
                "gen_ai.tool.call.arguments": json.dumps({"round": n // 3}),
            },
            start=n + 1,
        )
        for n in range(12)
    ]
    log = tmp_path / "traces.jsonl"
    log.write_text("".join(otlp_line(span) for span in spans))
    [hit] = loops(scan([str(log)], ScanOptions()).findings)
    assert hit.pattern == "scorer → critic → judge → scorer ×4"
    assert "through tool request_rescore" in hit.message


def _run_and_triage(crew: str, code: int = 3) -> list[dict]:
    ran = runner.invoke(app, ["run", str(ROOT / "crews" / crew / "crew.yaml"), "--offline", "-q"])
    assert ran.exit_code == code, ran.stderr
    triaged = runner.invoke(app, ["triage", "loops", ran.stderr.strip().split()[-1], "--json"])
    found = json.loads(triaged.stdout)["findings"]
    return [f for f in found if f["detector"] in ("cycle", "ping_pong")]


@pytest.mark.parametrize(
    ("crew", "pattern", "carrier"),
    [
        ("runaway-rescoring", "scorer → critic → judge → scorer ×4", "tool request_rescore"),
        ("delegation-ping-pong", "lead ⇄ dev ×4", "handoffs (delegations) until the"),
    ],
)
def test_every_incident_crew_gets_the_finding_that_names_its_loop(
    crew: str, pattern: str, carrier: str
) -> None:
    [hit] = _run_and_triage(crew)
    assert hit["evidence"]["pattern"] == pattern
    assert carrier in hit["message"]
    assert hit["evidence"]["first"]["line"] < hit["evidence"]["last"]["line"]  # when it started
    assert hit["tokens"] > 0  # what it cost


@pytest.mark.parametrize(
    "crew", ["fraud-review", "hierarchical-report", "research-pipeline", "support-ticket"]
)
def test_crews_that_finish_name_no_loop(crew: str) -> None:
    assert _run_and_triage(crew, code=0) == []


def _pairs(first: tuple[str, str], second: tuple[str, str]) -> list[dict]:
    """Two exchanges interleaved: `first` on tool a for 6 steps, `second` on tool b for 8."""
    events = []
    for n in range(8):
        if n < 6:
            events.append(tool(2 * n, "a", args="a", agent=first[n % 2], task=first[n % 2]))
        events.append(tool(2 * n + 1, "b", args="b", agent=second[n % 2], task=second[n % 2]))
    return events


def test_one_finding_per_loop_when_agents_loop_through_several_tools(tmp_path: Path) -> None:
    [hit] = loops(both_paths(tmp_path, run(*_pairs(("scorer", "critic"), ("critic", "judge")))))
    assert hit.pattern == "critic ⇄ judge ×8"  # the longer of two exchanges sharing critic
    apart = loops(both_paths(tmp_path, run(*_pairs(("scorer", "critic"), ("judge", "clerk")))))
    assert sorted(f.pattern for f in apart) == ["judge ⇄ clerk ×8", "scorer ⇄ critic ×6"]
