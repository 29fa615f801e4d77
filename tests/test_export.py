"""`mas export`: every example crew's run as OTLP JSON, held against its own events.jsonl.

The file is read back three ways: as raw OTLP JSON (ids, parent links, times, attributes
checked against the log, field by field), by `mas triage loops` and by `mas cost-report`,
whose answers must equal the same commands' answers on the run's events.jsonl.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.export.spans import time_ns

ROOT = Path(__file__).resolve().parent.parent
CREWS = sorted(p.parent.name for p in (ROOT / "crews").glob("*/crew.yaml"))
runner = CliRunner()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One home with one offline run of every example crew."""
    home = tmp_path_factory.mktemp("home")
    for crew in CREWS:
        path = ROOT / "crews" / crew / "crew.yaml"
        result = runner.invoke(app, ["run", str(path), "--offline", "--home", str(home), "-q"])
        assert result.exit_code in (0, 3), result.output
    return home


def log_of(home: Path, crew: str) -> Path:
    for log in (home / "runs").glob("*/events.jsonl"):
        if json.loads(log.read_text(encoding="utf-8").splitlines()[0])["crew"] == crew:
            return log
    raise AssertionError(f"no run of {crew}")


def events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def export(*args: str) -> Any:
    result = runner.invoke(app, ["export", *args])
    assert result.exit_code == 0, result.output
    return result


def spans(path: Path) -> list[dict[str, Any]]:
    """Every span of an OTLP JSON lines file, its attributes as a plain dict."""
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        request = json.loads(line)
        for resource in request["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                assert scope["scope"]["name"] == "mas"
                for span in scope["spans"]:
                    span["attrs"] = {a["key"]: _value(a["value"]) for a in span["attributes"]}
                    found.append(span)
    return found


def _value(value: dict[str, Any]) -> Any:
    if "arrayValue" in value:
        return [_value(v) for v in value["arrayValue"].get("values", [])]
    if "intValue" in value:
        assert isinstance(value["intValue"], str)  # OTLP JSON: 64-bit integers as strings
        return int(value["intValue"])
    return next(iter(value.values()))


@pytest.fixture(scope="module")
def exported(home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("exported")
    files = {}
    for crew in CREWS:
        files[crew] = folder / f"{crew}.jsonl"
        export(str(log_of(home, crew)), "--to", str(files[crew]))
    return files


@pytest.mark.parametrize("crew", CREWS)
def test_each_event_becomes_its_span_with_the_logs_ids_and_times(
    home: Path, exported: dict[str, Path], crew: str
) -> None:
    log, found = events(log_of(home, crew)), spans(exported[crew])
    by_id = {s["spanId"]: s for s in found}
    assert len(by_id) == len(found), "span ids are unique"
    names = Counter(s["name"].split(" ")[0] for s in found)
    kinds = Counter(e["type"] for e in log)
    assert names["chat"] == kinds["llm_call"]
    assert names["execute_tool"] == kinds["tool_call"]
    assert names["invoke_agent"] == kinds["task_finished"]
    assert names["invoke_workflow"] == 1
    assert set(names) == {"chat", "execute_tool", "invoke_agent", "invoke_workflow"}
    start, end = log[0], log[-1]
    root = next(s for s in found if "parentSpanId" not in s)
    assert root["name"] == f"invoke_workflow {crew}"
    assert (root["traceId"], root["spanId"]) == (start["trace_id"], start["span_id"])
    assert int(root["startTimeUnixNano"]) == time_ns(start["ts"])
    assert int(root["endTimeUnixNano"]) == time_ns(end["ts"])
    for span in found:  # every parent is a span of the same trace: the tree holds
        assert span["traceId"] == start["trace_id"]
        assert span is root or span["parentSpanId"] in by_id
        assert int(span["startTimeUnixNano"]) <= int(span["endTimeUnixNano"])


@pytest.mark.parametrize("crew", CREWS)
def test_model_calls_carry_the_genai_attributes_and_the_cost(
    home: Path, exported: dict[str, Path], crew: str
) -> None:
    calls = [e for e in events(log_of(home, crew)) if e["type"] == "llm_call"]
    chats = {s["spanId"]: s for s in spans(exported[crew]) if s["name"].startswith("chat ")}
    for call in calls:
        span = chats[call["span_id"]]
        attrs = span["attrs"]
        assert span["name"] == f"chat {call['model']}"
        assert span["kind"] == 3  # CLIENT, as an integer
        assert int(span["endTimeUnixNano"]) == time_ns(call["ts"])
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.provider.name"] == call["provider"]
        assert attrs["gen_ai.request.model"] == call["model"]
        assert attrs["gen_ai.agent.name"] == call["agent"]
        assert attrs["gen_ai.usage.input_tokens"] == call["input_tokens"]
        assert attrs["gen_ai.usage.output_tokens"] == call["output_tokens"]
        assert attrs["gen_ai.usage.cache_read.input_tokens"] == call["cache_read_tokens"]
        assert attrs["gen_ai.usage.cache_creation.input_tokens"] == call["cache_write_tokens"]
        assert attrs["gen_ai.usage.reasoning.output_tokens"] == call["reasoning_tokens"]
        assert attrs["gen_ai.response.finish_reasons"] == [call["finish_reason"]]
        assert attrs["mas.cost_usd"] == call["cost_usd"]
        assert "gen_ai.input.messages" not in attrs  # content only with --include-content


def test_the_delegation_tree_and_the_limit_hit_survive_the_export(
    home: Path, exported: dict[str, Path]
) -> None:
    found = spans(exported["delegation-ping-pong"])
    by_id = {s["spanId"]: s for s in found}
    workers = [s for s in found if s["name"] == "invoke_agent dev"]
    assert workers
    for worker in workers:  # a worker's task hangs under the task that delegated to it
        assert by_id[worker["parentSpanId"]]["name"].startswith("invoke_agent ")
    moments = Counter(e["name"] for s in found for e in s.get("events", []))
    assert moments["handoff"] >= 2
    assert moments["limit_hit"] == 1
    root = next(s for s in found if "parentSpanId" not in s)
    assert root["status"]["code"] == 2  # stopped: an error status with the reason
    assert "ping-pong" in root["status"]["message"]


@pytest.mark.parametrize("crew", CREWS)
def test_triage_loops_reads_the_export_as_it_reads_the_log(
    home: Path, exported: dict[str, Path], crew: str
) -> None:
    def loops(path: Path) -> dict[str, Any]:
        result = runner.invoke(app, ["triage", "loops", str(path), "--json"])
        assert result.exit_code in (0, 1), result.output
        report: dict[str, Any] = json.loads(result.stdout)
        return report

    ours, theirs = loops(log_of(home, crew)), loops(exported[crew])
    assert theirs["agents"]
    assert theirs["traces"] == ours["traces"] == 1
    assert _located(theirs) == _located(ours)  # the same findings, agents, totals, word for word


WHERE_READ = {"sources", "file", "line"}  # which file, which line: the only things that differ


def _located(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _located(v) for k, v in value.items() if k not in WHERE_READ}
    if isinstance(value, list):
        return [_located(v) for v in value]
    return value


@pytest.mark.parametrize("by", ["agent", "task", "model", "tool"])
def test_cost_report_reads_the_export_as_it_reads_the_log(
    home: Path, exported: dict[str, Path], by: str
) -> None:
    logs = [str(log_of(home, crew)) for crew in CREWS]
    files = [str(exported[crew]) for crew in CREWS]

    def report(paths: list[str]) -> dict[str, Any]:
        result = runner.invoke(app, ["cost-report", *paths, "--by", by, "--json"])
        assert result.exit_code == 0, result.output
        data: dict[str, Any] = json.loads(result.stdout)
        for run in data["runs"]:
            del run["path"]
        return data

    ours, theirs = report(logs), report(files)
    assert theirs == ours
    assert ours["total"]["llm_calls"] > 0
    assert len(theirs["runs"]) == len(CREWS)
    assert not [f for f in theirs["flags"] if "self-check failed" in f or "not finished" in f]


def test_a_tampered_duration_gives_spans_otlp_can_hold(home: Path, tmp_path: Path) -> None:
    lines = events(log_of(home, "fraud-review"))
    for event in lines:
        if event["type"] == "llm_call":
            event["latency_s"] = 1e300  # * 1e9 ns is past what a float holds
        if event["type"] == "tool_call":
            event["latency_s"] = -5.0
        if event["type"] == "run_finished":
            event["duration_s"] = 1e308
    log = tmp_path / "run" / "events.jsonl"
    log.parent.mkdir()
    log.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    result = export(str(log), "--to", str(tmp_path / "out.jsonl"))
    assert "Traceback" not in result.stderr
    found = spans(tmp_path / "out.jsonl")
    chats = [s for s in found if s["name"].startswith("chat ")]
    assert chats  # (a token count past the bound is a bad line: tests/test_token_bounds.py)
    for span in found:
        start = int(span.get("startTimeUnixNano", 0))  # 0 is left out, as OTLP JSON does
        end = int(span["endTimeUnixNano"])
        assert 0 <= start <= end < 2**63


@pytest.mark.parametrize(
    "ts", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "1969-07-20T20:17:00Z"]
)
def test_a_time_otlp_cannot_hold_is_brought_within_its_range(
    home: Path, tmp_path: Path, ts: str
) -> None:
    """OTLP times are unsigned 64-bit nanoseconds since 1970 (up to the year 2554): a log edited
    to another century crashed the encoder ("internal error: Value out of range")."""
    lines = events(log_of(home, "fraud-review"))
    for event in lines:
        if event["type"] in ("llm_call", "retry", "task_started"):
            event["ts"] = ts
    log = tmp_path / "run" / "events.jsonl"
    log.parent.mkdir()
    log.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    export(str(log), "--to", str(tmp_path / "out.jsonl"))
    found = spans(tmp_path / "out.jsonl")
    calls = ("llm_call", "tool_call", "task_finished")
    assert len(found) == len([e for e in lines if e["type"] in calls]) + 1  # and the run
    for span in found:
        start = int(span.get("startTimeUnixNano", 0))
        assert 0 <= start <= int(span.get("endTimeUnixNano", 0)) < 2**64  # 0 is left out
