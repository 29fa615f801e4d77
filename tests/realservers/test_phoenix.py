"""Runs exported to a real OTLP receiver, Arize Phoenix, and read back through its REST API.

Three ways in: `mas export RUN --endpoint` (a finished run, from its log), the OTLP JSON file
`mas export --to` writes (turned into protobuf by the reference JSON parser and posted as any
collector would), and `mas run --otel` (live, while the run goes). Each time Phoenix must hold
every span, with the log's trace and span ids, parent links and token counts.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from servers import Server
from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def run_crew(home: Path, crew: str, *extra: str) -> Path:
    path = ROOT / "crews" / crew / "crew.yaml"
    result = runner.invoke(app, ["run", str(path), "--offline", "--home", str(home), "-q", *extra])
    assert result.exit_code in (0, 3), result.output
    return next(iter(sorted((home / "runs").glob("*/events.jsonl"))[-1:]))


def log_events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def phoenix_spans(phoenix: Server, trace: str, count: int) -> dict[str, dict[str, Any]]:
    """The spans of one trace Phoenix holds, once it holds `count` of them (it ingests in the
    background), by span id."""
    deadline, found = time.monotonic() + 60, {}
    while time.monotonic() < deadline:
        found = {s["context"]["span_id"]: s for s in _all_spans(phoenix) if _trace(s) == trace}
        if len(found) >= count:
            return found
        time.sleep(0.5)
    return found


def _trace(span: dict[str, Any]) -> str:
    return str(span["context"]["trace_id"])


def _all_spans(phoenix: Server) -> list[dict[str, Any]]:
    spans, cursor = [], ""
    while True:
        url = f"{phoenix.url}/v1/projects/default/spans?limit=1000"
        with urllib.request.urlopen(url + (f"&cursor={cursor}" if cursor else ""), timeout=30) as r:
            page = json.load(r)
        spans += page["data"]
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return spans


def check_against_log(phoenix: Server, log: Path) -> dict[str, dict[str, Any]]:
    """Phoenix holds one span per span-making event, with the log's ids, links and tokens."""
    events = log_events(log)
    calls = [e for e in events if e["type"] in ("llm_call", "tool_call")]
    tasks = [e for e in events if e["type"] == "task_finished"]
    expected = len(calls) + len(tasks) + 1
    spans = phoenix_spans(phoenix, events[0]["trace_id"], expected)
    assert len(spans) == expected, f"Phoenix holds {len(spans)} of {expected} spans"
    root = spans[events[0]["span_id"]]
    assert root["parent_id"] is None
    assert root["name"] == f"invoke_workflow {events[0]['crew']}"
    for span in spans.values():
        assert span is root or span["parent_id"] in spans  # every parent link holds in Phoenix
    for call in (e for e in events if e["type"] == "llm_call"):
        attrs = spans[call["span_id"]]["attributes"]
        assert attrs["gen_ai.usage.input_tokens"] == call["input_tokens"]
        assert attrs["gen_ai.usage.output_tokens"] == call["output_tokens"]
        assert attrs["gen_ai.request.model"] == call["model"]
        assert spans[call["span_id"]]["parent_id"] in spans
    finished = events[-1]
    assert root["attributes"]["gen_ai.usage.input_tokens"] == finished["input_tokens"]
    return spans


def test_a_finished_run_exported_to_phoenix(phoenix: Server, tmp_path: Path) -> None:
    log = run_crew(tmp_path, "hierarchical-report")
    result = runner.invoke(app, ["export", str(log), "--endpoint", phoenix.url])
    assert result.exit_code == 0, result.output
    spans = check_against_log(phoenix, log)
    workers = [s for s in spans.values() if s["name"].startswith("invoke_agent ")]
    assert any(spans[s["parent_id"]]["name"].startswith("invoke_agent ") for s in workers)


def test_the_exported_file_is_otlp_json_phoenix_takes(phoenix: Server, tmp_path: Path) -> None:
    from google.protobuf.json_format import Parse
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    log = run_crew(tmp_path, "fraud-review")
    out = tmp_path / "spans.jsonl"
    assert runner.invoke(app, ["export", str(log), "--to", str(out)]).exit_code == 0
    for line in out.read_text(encoding="utf-8").splitlines():
        request = Parse(json.dumps(_ids_as_base64(json.loads(line))), ExportTraceServiceRequest())
        post = urllib.request.Request(
            f"{phoenix.url}/v1/traces",
            data=request.SerializeToString(),
            headers={"content-type": "application/x-protobuf"},
        )
        with urllib.request.urlopen(post, timeout=30) as response:
            assert response.status == 200
    check_against_log(phoenix, log)


def _ids_as_base64(request: dict[str, Any]) -> dict[str, Any]:
    """OTLP JSON has hex ids; protobuf's JSON parser wants bytes as base64."""
    for resource in request["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    return request


def test_a_run_exported_live_to_phoenix(
    phoenix: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", phoenix.url)  # no flag: the variable
    log = run_crew(tmp_path, "runaway-rescoring")
    assert not [e for e in log_events(log) if e["type"] == "warning"]
    spans = check_against_log(phoenix, log)
    limits = [s for s in spans.values() if s["status_code"] == "ERROR"]
    assert any("max_llm_calls" in s["status_message"] for s in limits)
