"""Other frameworks' traces: the right agents, the loop found, advice in the framework's terms.

The fixtures in tests/fixtures/frameworks/ were written by CrewAI, LangGraph and the OpenAI
Agents SDK themselves, run against a scripted local model (see generate.py there): in each,
agent order_checker calls lookup_order with the same arguments 4 times, then answers.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from triage_logs import attr, otlp_span
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.events.formats.otlp import read_otlp
from mas_cli.events.formats.records import ModelCall, ToolCallRecord, TraceEnd
from mas_cli.events.formats.source import BadLines

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "frameworks"
MAS_KNOBS = ("tools.lookup_order", "agents.", "limits.", "kind: deterministic")

CASES = {
    "crewai.otlp.jsonl": (
        ["order_checker", "reply_writer"],
        ("CrewAI", "max_iter=", "cache_function"),
    ),
    "langgraph.otlp.jsonl": (
        ["order_checker", "reply_writer"],
        ("LangGraph", "recursion_limit", "cache_policy"),
    ),
    "openai_agents.jsonl": (["order_checker"], ("Agents SDK", "max_turns=", "StopAtTools")),
    "openai_agents.otlp.jsonl": (["order_checker"], ("Agents SDK", "max_turns=", "StopAtTools")),
}


def triage(path: Path, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["triage", "loops", str(path), "--json", *extra])
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", sorted(CASES))
def test_framework_trace_blames_the_looping_agent_in_its_own_terms(name: str) -> None:
    agents, words = CASES[name]
    report = triage(FIXTURES / name)
    assert [row["agent"] for row in report["agents"]] == agents  # never "?"
    (found,) = [f for f in report["findings"] if f["detector"] == "repeated_calls"]
    assert found["where"]["agent"] == "order_checker"
    assert found["evidence"]["pattern"].startswith("lookup_order(")
    assert "×4" in found["evidence"]["pattern"]
    for word in words:
        assert word in found["fix"]
    assert not [k for k in MAS_KNOBS if k in found["fix"]], found["fix"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_turns_advice_names_the_frameworks_turn_limit(name: str) -> None:
    report = triage(FIXTURES / name, "--threshold", "turns=3")
    (found,) = [f for f in report["findings"] if f["detector"] == "turns"]
    assert found["where"]["agent"] == "order_checker"
    knob = {
        "CrewAI": "max_iter=3",
        "LangGraph": '"recursion_limit": 7',
        "Agents SDK": "max_turns=3",
    }
    assert knob[CASES[name][1][0]] in found["fix"]
    assert not [k for k in MAS_KNOBS if k in found["fix"]], found["fix"]


def _spans(path: Path) -> list[dict[str, Any]]:
    """Each span of an OTLP JSON lines file, with its resource and scope, one export each."""
    out = []
    for line in path.read_text().splitlines():
        for resource in json.loads(line)["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    one = {
                        "resource": resource["resource"],
                        "scopeSpans": [{**scope, "spans": [span]}],
                    }
                    out.append({"resourceSpans": [one]})
    return out


def _agents_of_calls(lines: list[str]) -> list[tuple[str, str, str]]:
    numbered = [(n, line.encode()) for n, line in enumerate(lines, 1)]
    records = [r for _, r in read_otlp(numbered, "x", BadLines())]
    calls = [r for r in records if isinstance(r, ModelCall | ToolCallRecord)]
    return sorted((type(r).__name__, r.span, r.agent) for r in calls)


@pytest.mark.parametrize("name", ["crewai.otlp.jsonl", "langgraph.otlp.jsonl"])
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1))
def test_spans_in_any_order_get_the_same_agents(name: str, seed: int) -> None:
    exports = _spans(FIXTURES / name)
    lines = [json.dumps(e) for e in exports]
    expected = _agents_of_calls(lines)
    root, rest = lines[-1], lines[:-1]  # the root ends the trace: it is exported last
    random.Random(seed).shuffle(rest)
    assert _agents_of_calls([*rest, root]) == expected
    assert {agent for _, _, agent in expected} == {"order_checker", "reply_writer"}


def test_memory_is_held_only_for_traces_in_flight() -> None:
    """Ten copies of the CrewAI trace, one after another: nothing is kept past a trace's end."""
    from mas_cli.events.formats import otlp

    base = (FIXTURES / "crewai.otlp.jsonl").read_text()
    reader, ends = otlp._Reader(), 0
    for copy in range(10):
        text = base.replace('"traceId":"', f'"traceId":"{copy:02d}')
        for n, line in enumerate(text.splitlines(), 1):
            for _, record in reader.line(n, line.encode(), "x", BadLines()):
                ends += isinstance(record, TraceEnd)
        assert reader.attribution.traces == {}
        assert reader.frameworks == {}
    assert ends == 10


def _line(scope: str, service: str, *spans: dict[str, Any]) -> str:
    resource = {"attributes": [attr("service.name", service)]}
    scoped = {"scope": {"name": scope}, "spans": list(spans)}
    return json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [scoped]}]}) + "\n"


def _looping_calls(parent: str, n: int = 4) -> list[dict[str, Any]]:
    tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}
    tool |= {"gen_ai.tool.call.arguments": '{"q": "x"}'}
    return [
        otlp_span(f"{i:016x}", parent, "execute_tool search", tool, start=i)
        for i in range(1, n + 1)
    ]


def test_genai_invoke_agent_span_named_only_in_its_span_name(tmp_path: Path) -> None:
    """GenAI semconv: `invoke_agent scorer` without gen_ai.agent.name still names the agent."""
    agent = otlp_span(
        "a" * 16, "", "invoke_agent scorer", {"gen_ai.operation.name": "invoke_agent"}, start=9
    )
    log = tmp_path / "genai.jsonl"
    log.write_text(_line("my.app", "svc", *_looping_calls("a" * 16), agent))
    report = triage(log)
    assert [row["agent"] for row in report["agents"]] == ["scorer"]
    (found,) = report["findings"]
    assert found["where"]["agent"] == "scorer"
    # no framework said, and not a mas run (those carry mas's mark): no crew file to set
    assert found["fix"].startswith("in the agent's prompt or loop: ")
    assert "tools.search." not in found["fix"]


def test_autogen_trace_gets_termination_and_max_turns_advice(tmp_path: Path) -> None:
    agent_attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "critic"}
    agent = otlp_span("a" * 16, "", "invoke_agent critic", agent_attrs, start=9)
    log = tmp_path / "autogen.jsonl"
    log.write_text(_line("autogen-core", "team", *_looping_calls("a" * 16), agent))
    report = triage(log, "--threshold", "turns=3")
    (found,) = report["findings"]
    assert found["where"]["agent"] == "critic"
    assert "in AutoGen:" in found["fix"]
    assert "MaxMessageTermination" in found["fix"]
    assert "max_turns=" in found["fix"]
    assert "tools.search" not in found["fix"]


@pytest.mark.parametrize(
    "metadata",
    [
        "{not json",
        '"langgraph"',
        json.dumps({"langgraph_node": "tools", "langgraph_checkpoint_ns": "|"}),
        json.dumps({"langgraph_node": "tools", "langgraph_checkpoint_ns": 7}),
        "[" * 5000 + "langgraph" + "]" * 5000,
    ],
    ids=["not-json", "a-string", "empty-ns-parts", "ns-not-a-string", "too-deep"],
)
def test_hostile_langgraph_metadata_is_read_past(tmp_path: Path, metadata: str) -> None:
    tool = {"openinference.span.kind": "TOOL", "tool.name": "search", "metadata": metadata}
    tool |= {"graph.node.id": 5}
    spans = [otlp_span(f"{i:016x}", "b" * 16, "search", tool, start=i) for i in range(1, 5)]
    root_attrs = {"metadata": metadata, "openinference.span.kind": "AGENT", "graph.node.id": 5}
    root = otlp_span("b" * 16, "", "graph", root_attrs, start=9)
    log = tmp_path / "lg.jsonl"
    log.write_text(_line("openinference.instrumentation.langchain", "svc", *spans, root))
    report = triage(log)
    assert report["records"] >= 5
    assert [f["detector"] for f in report["findings"]] == ["repeated_calls"]


@pytest.mark.parametrize("name", ["crewai.otlp.jsonl", "langgraph.otlp.jsonl"])
def test_root_first_export_is_one_trace_with_its_agents(tmp_path: Path, name: str) -> None:
    """An export in start order (parents before children): the root does not end the trace."""
    lines = (FIXTURES / name).read_text().splitlines(keepends=True)
    log = tmp_path / name
    log.write_text("".join(reversed(lines)))
    report = triage(log)
    assert report["traces"] == 1
    assert [row["agent"] for row in report["agents"]] == ["order_checker", "reply_writer"]
    (found,) = [f for f in report["findings"] if f["detector"] == "repeated_calls"]
    assert found["where"]["agent"] == "order_checker"
    assert found["fix"].startswith(("in CrewAI:", "in LangGraph:"))


def test_root_first_traces_held_open_are_bounded() -> None:
    from mas_cli.events.formats import otlp

    reader, ends = otlp._Reader(), 0
    root = {"resourceSpans": [{"scopeSpans": [{"spans": [otlp_span("a" * 16, "", "root", {})]}]}]}
    for n in range(otlp.PENDING_TRACES + 50):
        root["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = f"{n:032x}"
        line = json.dumps(root).encode()
        ends += sum(isinstance(r, TraceEnd) for _, r in reader.line(n, line, "x", BadLines()))
        assert len(reader.pending) <= otlp.PENDING_TRACES
    assert ends == 50
    assert sum(isinstance(r, TraceEnd) for _, r in reader.finish()) == otlp.PENDING_TRACES


def _busy_unfinished_trace() -> list[dict[str, Any]]:
    """Agents a and b take turns 12 times; a's model says the same thing with a growing input
    and alternates two tools; the root never comes: every per-trace detector but failures fires."""
    spans, n = [], 0
    for turn in range(12):
        agent, span = "ab"[turn % 2], f"{turn + 1:016x}"
        model = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}
        model |= {"gen_ai.usage.input_tokens": 1000 * (turn + 1), "gen_ai.output.messages": "same"}
        for name in ("search", "fetch") if agent == "a" else ():
            n += 1
            call = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}
            spans.append(otlp_span(f"{n:08x}{'c' * 8}", span, name, call, start=turn * 3 + 1))
        spans.append(otlp_span(f"{turn:08x}{'d' * 8}", span, "chat", model, start=turn * 3))
        invoke = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent}
        spans.append(otlp_span(span, "f" * 16, f"invoke_agent {agent}", invoke, start=turn * 3))
    return spans


@pytest.mark.parametrize(
    ("scope", "name"),
    [
        ("openinference.instrumentation.crewai", "CrewAI"),
        ("openinference.instrumentation.langgraph", "LangGraph"),
        ("openinference.instrumentation.openai_agents", "Agents SDK"),
        ("autogen-agentchat", "AutoGen"),
    ],
)
def test_every_reworded_detector_speaks_the_framework(
    tmp_path: Path, scope: str, name: str
) -> None:
    log = tmp_path / "busy.jsonl"
    log.write_text(_line(scope, "svc", *_busy_unfinished_trace()))
    report = triage(log)
    found = {
        (f["detector"], f["evidence"]["pattern"].count("(") > 0): f for f in report["findings"]
    }
    assert {d for d, _ in found} >= {
        "turns",
        "repeated_calls",
        "ping_pong",
        "monologue",
        "token_growth",
        "unfinished",
    }
    assert ("ping_pong", True) in found  # tools taking turns
    assert ("ping_pong", False) in found  # agents taking turns
    for finding in report["findings"]:
        assert finding["fix"].startswith(f"in {name}: "), finding
        assert not [k for k in (*MAS_KNOBS, "?") if k in finding["fix"]], finding["fix"]
    agents_fix = found["ping_pong", False]["fix"]
    assert " a " in agents_fix
    assert " b" in agents_fix
    assert "tools search and fetch" in found["ping_pong", True]["fix"]


def test_a_mas_log_keeps_the_crew_file_advice(tmp_path: Path) -> None:
    from triage_logs import jsonl, run, tool

    log = tmp_path / "events.jsonl"
    log.write_text(jsonl(run(*(tool(i, args="same", result="r") for i in range(1, 5)))))
    (found,) = triage(log)["findings"]
    assert "tools.search.deterministic: true" in found["fix"]


@pytest.mark.parametrize(
    ("scope", "service", "attrs", "expected"),
    [
        ("opentelemetry.instrumentation.openai", "crewai-orders", {}, "crewai"),
        ("my.tracer", "svc", {"crew_key": "k"}, "crewai"),
        (
            "openinference.instrumentation.langchain",
            "svc",
            {"metadata": '{"langgraph_node": "x"}'},
            "langgraph",
        ),
        (
            "openinference.instrumentation.langchain",
            "svc",
            {"metadata": '{"ls_integration": "x"}'},
            "",
        ),
        ("openai.agents", "svc", {}, ""),
        ("openinference.instrumentation.openai_agents", "svc", {}, "openai-agents"),
        ("x", "svc", {"gen_ai.system": "AG2"}, "autogen"),
        ("x", "svc", {"gen_ai.system": "openai"}, ""),
    ],
)
def test_framework_from_scope_service_or_attributes(
    scope: str, service: str, attrs: dict[str, Any], expected: str
) -> None:
    from mas_cli.events.formats.frameworks import framework_of

    assert framework_of(scope, service, attrs) == expected
