"""Advice in the terms of what wrote the log, for every kind of finding.

A framework's trace gets its framework's settings for rates, repeated failures and limit hits
too, not the crew file's; SWE-agent and OpenHands trajectories get their own settings; a plain
chat transcript is told what to change in the agent's prompt or loop, and no setting that does
not apply to it is named.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from triage_logs import attr, otlp_span
from typer.testing import CliRunner

from mas_cli.cli import app

CHATS = Path(__file__).parent / "fixtures" / "chats"
MAS_KNOBS = ("agents.", "limits.", "rate_limits", "tools.", "crew file")
EVERY_SETTING = (
    "max_iter",
    "max_rpm",
    "recursion_limit",
    "max_turns=",
    "Runner.run",
    "agent.model.",
    "config.toml",
    "max_iterations",
    "Termination",
    *MAS_KNOBS,
)


def triage(path: Path) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["triage", "loops", str(path), "--json"])
    assert result.exit_code in (0, 1), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return dict(json.loads(result.stdout))


def _in_trace(trace: str, span: dict[str, Any]) -> dict[str, Any]:
    return span | {"traceId": trace}


def _failing_busy_trace() -> list[dict[str, Any]]:
    """Agent a invoked 12 times in a minute; its tool fails 3 times the same way, so does its
    model, and the run stops at a turn limit. A second trace only hits the limit."""
    one, two = "1" * 32, "2" * 32
    spans = []
    tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}
    model = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}
    for i in range(3):  # children first, as an exporter writes them (a span ends after them)
        spans.append(
            otlp_span(
                f"{i + 1:08x}{'c' * 8}", f"{1:016x}", "search", tool, start=2, error="HTTP 500"
            )
        )
        spans.append(
            otlp_span(f"{i + 1:08x}{'d' * 8}", f"{2:016x}", "chat", model, start=3, error="401 key")
        )
    for i in range(12):
        invoke = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a"}
        spans.append(otlp_span(f"{i + 1:016x}", "e" * 16, "invoke_agent a", invoke, start=i + 1))
    stop = "MaxTurnsExceeded: Max turns (5) exceeded"
    spans.append(otlp_span("e" * 16, "", "agent run", {}, start=30, error=stop))
    alone = otlp_span("f" * 16, "", "agent run", {}, start=40, error=stop)
    return [_in_trace(one, s) for s in spans] + [_in_trace(two, alone)]


def _line(scope: str, spans: list[dict[str, Any]]) -> str:
    resource = {"attributes": [attr("service.name", "svc")]}
    scoped = {"scope": {"name": scope}, "spans": spans}
    return json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [scoped]}]}) + "\n"


@pytest.mark.parametrize(
    ("scope", "name", "words"),
    [
        (
            "openinference.instrumentation.crewai",
            "CrewAI",
            ("max_rpm", "max_retry_limit", "max_retry_limit", "max_iter"),
        ),
        (
            "openinference.instrumentation.langgraph",
            "LangGraph",
            ("rate_limiter", "handle_tool_errors", "RetryPolicy(max_attempts=", "recursion_limit"),
        ),
        (
            "openinference.instrumentation.openai_agents",
            "Agents SDK",
            ("max_turns=", "failure_error_function", "AsyncOpenAI(max_retries=", "max_turns="),
        ),
        (
            "autogen-agentchat",
            "AutoGen",
            (
                "MaxMessageTermination",
                "MaxMessageTermination",
                "OpenAIChatCompletionClient",
                "max_turns",
            ),
        ),
    ],
)
def test_rates_failures_and_limit_hits_speak_the_framework(
    tmp_path: Path, scope: str, name: str, words: tuple[str, str, str, str]
) -> None:
    """Words: what the rate, a tool's failures, a model's failures and a limit hit name."""
    rate, tool, model, limit = words
    log = tmp_path / "failing.jsonl"
    log.write_text(_line(scope, _failing_busy_trace()))
    findings = triage(log)["findings"]
    by = {
        (f["detector"], f["evidence"]["pattern"].split()[0], f["where"]["trace"]): f
        for f in findings
    }
    fixes = {
        "rate": by["rate", "12/min", None]["fix"],
        "tool": by["repeated_failures", "tool", "1" * 32]["fix"],
        "model": by["repeated_failures", "model", "1" * 32]["fix"],
        "limit": by["limit_hit", "agent", "1" * 32]["fix"],
        "lone": by["limit_hit", "agent", "2" * 32]["fix"],
    }
    for fix in fixes.values():
        assert fix.startswith(f"in {name}: "), fix
        assert not [k for k in (*MAS_KNOBS, "?") if k in fix], fix
    assert rate in fixes["rate"]
    assert "agent a" in fixes["rate"]
    assert tool in fixes["tool"]
    assert "tool search fail (HTTP 500)" in fixes["tool"]
    assert "agent a" in fixes["tool"] or name != "CrewAI"
    assert model in fixes["model"]
    assert "401 key" in fixes["model"]
    assert limit in fixes["limit"]
    assert limit in fixes["lone"]
    assert "other findings" in fixes["limit"]
    assert "other findings" not in fixes["lone"]
    assert "nothing else in this trace" in fixes["lone"]


def test_swe_agent_trajectory_gets_its_cost_and_call_limits() -> None:
    found = {f["detector"]: f for f in triage(CHATS / "swe_agent.traj")["findings"]}
    fix = found["repeated_calls"]["fix"]
    assert fix.startswith("in SWE-agent: "), fix
    assert "agent.model.per_instance_call_limit" in fix
    assert "agent.model.per_instance_cost_limit" in fix
    assert not [k for k in MAS_KNOBS if k in fix], fix


def test_openhands_events_get_max_iterations_and_budget() -> None:
    found = {f["detector"]: f for f in triage(CHATS / "openhands.json")["findings"]}
    fix = found["repeated_failures"]["fix"]
    assert fix.startswith("in OpenHands: "), fix
    assert "fix what makes tool pytest -q fail (exit code 1" in fix
    assert "max_iterations" in fix
    assert "config.toml" in fix
    assert not [k for k in MAS_KNOBS if k in fix], fix


@pytest.mark.parametrize("name", ["openai.jsonl", "anthropic.json"])
def test_a_plain_chat_is_told_what_to_change_in_its_prompt_or_loop(name: str) -> None:
    findings = triage(CHATS / name)["findings"]
    assert findings
    for finding in findings:
        fix = finding["fix"]
        assert fix.startswith("in the agent's prompt or loop: "), fix
        assert not [k for k in EVERY_SETTING if k in fix], fix


def test_a_trace_no_framework_is_named_in_gets_no_crew_file_settings(tmp_path: Path) -> None:
    """An app instrumented by hand (GenAI spans, no framework's scope or attributes) has no
    crew file: its findings say what to change in its own loop, not `tools.X.deterministic`."""
    call = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"}
    call |= {"gen_ai.agent.name": "a", "gen_ai.tool.call.arguments": '{"id": 7}'}
    spans = [otlp_span(f"{i + 1:016x}", "e" * 16, "lookup", call, start=i) for i in range(7)]
    spans += _failing_busy_trace()[-2:]  # a turn limit, alone and with the loop
    spans[-2] = _in_trace("4bf92f3577b34da6a3ce929d0e0e4736", spans[-2])
    log = tmp_path / "traces.jsonl"
    log.write_text(_line("my_app.agent", spans))
    findings = triage(log)["findings"]
    assert {f["detector"] for f in findings} >= {"repeated_calls", "limit_hit"}
    for finding in findings:
        fix = finding["fix"]
        assert fix.startswith("in the agent's prompt or loop: "), fix
        assert not [k for k in EVERY_SETTING if k in fix], fix


@pytest.mark.parametrize("follow", [False, True])
def test_a_text_log_gets_no_crew_file_settings(tmp_path: Path, follow: bool) -> None:
    """A text log has no crew file behind it: repeated calls, an agent invoked too often and a
    limit hit are advised in the terms of its own loop, read whole or followed from a pipe."""
    lines = [
        f'2026-12-06 10:00:{i:02d} INFO agent=scorer tool=search args={{"q": 1}} tool_call'
        for i in range(8)
    ]
    lines += [f"2026-12-06 10:01:{i:02d} INFO agent=critic agent_run" for i in range(12)]
    lines += ["2026-12-06 10:02:00 ERROR agent=critic circuit breaker: max_llm_calls reached"]
    text = "\n".join(lines) + "\n"
    if follow:  # a pipe: read to its end, each finding a JSON line
        result = CliRunner().invoke(app, ["triage", "loops", "-", "--follow", "--json"], text)
        assert "Traceback" not in result.stderr
        events = [json.loads(line) for line in result.stdout.splitlines()]
        findings = [e for e in events if e["event"] == "finding"]
    else:
        log = tmp_path / "app.log"
        log.write_text(text)
        findings = triage(log)["findings"]
    assert {f["detector"] for f in findings} >= {"repeated_calls", "rate", "limit_hit"}
    for finding in findings:
        fix = finding["fix"]
        assert fix.startswith("in the agent's prompt or loop: "), fix
        assert not [k for k in EVERY_SETTING if k in fix], fix
