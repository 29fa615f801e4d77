"""`mas run --otel` against a receiver that works, one that is down, one that hangs and one that
refuses: the run's spans arrive, or the run ends as it would have, with a warning in its log
before run_finished; `mas export --endpoint` says why it failed, with no traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from otlpreceiver import Receiver, closed_port
from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
CREW = ROOT / "crews" / "fraud-review" / "crew.yaml"
runner = CliRunner()


def run_live(home: Path, *extra: str) -> tuple[Any, list[dict[str, Any]]]:
    result = runner.invoke(app, ["run", str(CREW), "--offline", "--home", str(home), *extra])
    log = next((home / "runs").glob("*/events.jsonl"))
    return result, [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def span_events(events: list[dict[str, Any]]) -> int:
    kinds = [e["type"] for e in events]
    return kinds.count("llm_call") + kinds.count("tool_call") + kinds.count("task_finished") + 1


def test_a_run_exports_every_span_live(tmp_path: Path) -> None:
    with Receiver() as receiver:
        result, events = run_live(tmp_path, "--otel-endpoint", receiver.url)
        spans = receiver.wait_for(span_events(events))
    assert result.exit_code == 0, result.output
    assert len(spans) == span_events(events)
    by_id = {s.span_id.hex(): s for s in spans}
    assert set(by_id) >= {e["span_id"] for e in events if e["type"] == "llm_call"}
    assert {s.trace_id.hex() for s in spans} == {events[0]["trace_id"]}
    assert not [e for e in events if e["type"] == "warning"]
    assert "warning" not in result.stderr


def test_the_environment_variable_turns_live_export_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        result, events = run_live(tmp_path, "-q")
        assert receiver.wait_for(span_events(events))
    assert result.exit_code == 0


@pytest.mark.parametrize("mode", ["down", "hang", "refuse"])
def test_a_collector_in_trouble_never_fails_the_run(tmp_path: Path, mode: str) -> None:
    with Receiver("refuse" if mode == "refuse" else "hang") as receiver:
        url = f"http://127.0.0.1:{closed_port()}" if mode == "down" else receiver.url
        result, events = run_live(tmp_path, "--otel-endpoint", url)
    assert result.exit_code == 0, result.output
    assert events[-1]["type"] == "run_finished"
    assert events[-1]["status"] == "ok"
    warnings = [e for e in events if e["type"] == "warning"]
    assert len(warnings) == 1, "one warning, in the log, before run_finished"
    assert "OpenTelemetry export to" in warnings[0]["message"]
    assert "the run goes on without it" in warnings[0]["message"]
    assert "warning: OpenTelemetry export" in result.stderr
    assert "Traceback" not in result.output


def test_export_to_an_endpoint_that_is_down_fails_clearly(tmp_path: Path) -> None:
    run_live(tmp_path, "-q")
    url = f"http://127.0.0.1:{closed_port()}"
    result = runner.invoke(app, ["export", "--home", str(tmp_path), "--endpoint", url])
    assert result.exit_code == 1
    assert f"cannot export to {url}/v1/traces: connection refused (retried" in result.stderr
    assert "--to FILE.jsonl" in result.stderr
    assert "Traceback" not in result.output


def test_export_to_an_endpoint_delivers_every_span(tmp_path: Path) -> None:
    _, events = run_live(tmp_path, "-q")
    with Receiver() as receiver:
        result = runner.invoke(
            app, ["export", "--last", "--home", str(tmp_path), "--endpoint", receiver.url]
        )
        spans = receiver.wait_for(span_events(events))
    assert result.exit_code == 0, result.output
    assert len(spans) == span_events(events)
    assert f"to {receiver.url}/v1/traces" in result.stderr
