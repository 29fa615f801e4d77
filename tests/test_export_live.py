"""`mas run --otel` against a receiver that works, one that is down, one that hangs and one that
refuses: the run's spans arrive, or the run ends as it would have, with a warning in its log
before run_finished; `mas export --endpoint` says why it failed, with no traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from otlpreceiver import MARKUP, Receiver, closed_port
from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
CREW = ROOT / "crews" / "fraud-review" / "crew.yaml"
runner = CliRunner()


@pytest.fixture
def quick_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exports that are retried until their timeout give up after 1.5 s, not 5 or 10."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1500")


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


@pytest.mark.usefixtures("quick_timeout")
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


TOKEN = "tok-4d1c9e7a2b8f5063"  # a collector's token: never shown, never logged


@pytest.mark.usefixtures("quick_timeout")
def test_credentials_in_the_endpoint_never_reach_the_log_or_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL's user, password and query values were printed, and written into the run's log,
    in the warning about a collector that did not answer."""
    port = closed_port()
    url = f"http://alice:{TOKEN}@127.0.0.1:{port}/otlp?api_key={TOKEN}x"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    result, events = run_live(tmp_path)
    assert result.exit_code == 0, result.output
    warning = next(e for e in events if e["type"] == "warning")["message"]
    shown = f"http://***@127.0.0.1:{port}/otlp/v1/traces?api_key=***"
    assert f"OpenTelemetry export to {shown} failed" in warning
    exported = runner.invoke(app, ["export", "--home", str(tmp_path), "--endpoint", url])
    assert exported.exit_code == 1
    assert f"cannot export to {shown}:" in exported.stderr
    for text in (warning, result.output, exported.output):
        assert TOKEN not in text
    assert TOKEN not in next((tmp_path / "runs").glob("*/events.jsonl")).read_text()


def test_a_collector_quoting_the_token_it_refused_never_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{TOKEN}")
    with Receiver("echo") as receiver:
        result, events = run_live(tmp_path, "--otel-endpoint", receiver.url)
        exported = runner.invoke(
            app, ["export", "--home", str(tmp_path), "--endpoint", receiver.url]
        )
        assert receiver.requests >= 2  # the header was sent, and quoted back
    assert exported.exit_code == 1
    assert f"cannot export to {receiver.url}/v1/traces: HTTP 401 ***." in exported.stderr
    warning = next(e for e in events if e["type"] == "warning")["message"]
    for text in (warning, result.output, exported.output):
        assert TOKEN not in text


@pytest.mark.parametrize(
    "headers", [f"Authorization=Bearer%0D{TOKEN}", f"Authorization=Bearer {TOKEN};v=1", TOKEN]
)
def test_a_header_that_cannot_be_sent_is_a_usage_error_that_never_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, headers: str
) -> None:
    """The SDK's own complaint quoted the header's value (in the error, in the run's log), or
    it dropped the header with a warning quoting it and sent the spans without it."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", headers)
    url = f"http://127.0.0.1:{closed_port()}"
    args = ["run", str(CREW), "--offline", "--home", str(tmp_path), "--otel-endpoint", url]
    for argv in (args, ["export", str(CREW), "--endpoint", url]):
        result = runner.invoke(app, argv)
        assert result.exit_code == 2, result.output
        assert "OTEL_EXPORTER_OTLP_HEADERS: " in result.stderr
        assert TOKEN not in result.output
    assert not (tmp_path / "runs").exists()  # refused before the run started


@pytest.mark.parametrize("url", ["localhost:4318", "ftp://collector", "http://[::1", "http://h:x"])
def test_an_endpoint_that_is_not_an_http_url_is_a_usage_error(tmp_path: Path, url: str) -> None:
    for argv in (
        ["run", str(CREW), "--offline", "--home", str(tmp_path), "--otel-endpoint", url],
        ["export", str(CREW), "--endpoint", url],
    ):
        result = runner.invoke(app, argv)
        assert result.exit_code == 2, result.output
        assert "is not an http(s) URL" in result.stderr
        assert "e.g. http://localhost:4318" in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("variable", "path", "posted"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "/otlp", "/otlp/v1/traces"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/api/traces", "/api/traces"),
    ],
)
def test_the_endpoint_variables_name_the_url_as_the_specification_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, path: str, posted: str
) -> None:
    """The traces-only variable is the traces URL itself, used as it is; /v1/traces was
    added to it too."""
    with Receiver() as receiver:
        monkeypatch.setenv(variable, receiver.url + path)
        result, events = run_live(tmp_path, "-q")
        assert receiver.wait_for(span_events(events))
    assert result.exit_code == 0
    assert set(receiver.paths) == {posted}


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("too-large", "HTTP 413 Request Entity Too Large"),
        ("busy", "HTTP 429 Too Many Requests, Retry-After: 3600 (retried until the export's"),
        ("refuse", "HTTP 503 Service Unavailable (retried until the export's timeout)"),
        ("close", "the collector closed the connection without answering (retried until"),
        ("down", "connection refused (retried until the export's timeout)"),
    ],
)
@pytest.mark.usefixtures("quick_timeout")
def test_a_refused_export_says_what_the_collector_answered(
    tmp_path: Path, mode: str, reason: str
) -> None:
    """The status of a refusal was lost ("Failed to export spans batch due to timeout, max
    retries or shutdown"), and live, the warning was the HTTP library's chain of wrappers."""
    run_live(tmp_path, "-q")
    with Receiver(mode) as receiver:
        url = f"http://127.0.0.1:{closed_port()}" if mode == "down" else receiver.url
        result = runner.invoke(app, ["export", "--home", str(tmp_path), "--endpoint", url])
    assert result.exit_code == 1
    assert f"cannot export to {url}/v1/traces: {reason}" in result.stderr


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("too-large", "(HTTP 413 Request Entity Too Large)"), ("down", ": connection refused (")],
)
def test_the_live_warning_says_it_in_a_few_words(tmp_path: Path, mode: str, reason: str) -> None:
    with Receiver(mode) as receiver:
        url = f"http://127.0.0.1:{closed_port()}" if mode == "down" else receiver.url
        _, events = run_live(tmp_path, "--otel-endpoint", url)
    warning = next(e for e in events if e["type"] == "warning")["message"]
    assert reason in warning
    assert "HTTPConnectionPool" not in warning
    assert len(warning) < 300, warning


def test_spans_a_slow_collector_made_the_queue_drop_are_a_warning(tmp_path: Path) -> None:
    """A collector slower than the run: the processor's queue (2,048 spans) dropped what did not
    fit, and once the collector had caught up, the run ended with no warning at all."""
    from mas_cli.events.reader import LogReader
    from mas_cli.export.live import LiveExport

    _, logged = run_live(tmp_path, "-q")
    made = span_events(logged) * 400
    events = list(LogReader(next((tmp_path / "runs").glob("*/events.jsonl"))))
    with Receiver("stall") as receiver:
        live = LiveExport(receiver.url, request_s=120)
        warned: list[str] = []
        live.attach(warned.append)
        for _ in range(400):  # 4,400 spans while the collector holds the first request
            for event in events:
                live(event)
        live.inbox.join()
        receiver.release.set()  # it catches up
        live.settle(120)
        failure = live.close(120)
        received = len(receiver.wait_for(made, timeout_s=1))
    assert received < made
    assert len(warned) == 1
    assert f"{made - received:,} of {made:,} spans were dropped" in warned[0]
    assert failure == warned[0]


def test_a_reason_that_reads_as_markup_is_shown_as_text(tmp_path: Path) -> None:
    """The collector's reason phrase went into rich markup: '[/yellow]' made the end of a run
    that had gone well 'internal error: MarkupError', exit 1, the crew's output never printed;
    '[link=...]' would have drawn a hyperlink."""
    with Receiver("markup") as receiver:
        result, events = run_live(tmp_path, "--otel-endpoint", receiver.url)
    assert result.exit_code == 0, result.output
    assert events[-1]["status"] == "ok"
    assert f"failed (HTTP 500 {MARKUP})" in result.stderr
    assert json.loads(result.stdout)["decision"]


def test_a_resume_exports_its_spans_live_as_a_run_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `mas resume` took no --otel and ignored OTEL_EXPORTER_OTLP_ENDPOINT: the resumed run,
    # the one that finished, never reached the collector the run was exported to.
    stopped = ["run", str(CREW), "--offline", "--home", str(tmp_path), "-q"]
    assert runner.invoke(app, [*stopped, "--limit", "max_llm_calls=1"]).exit_code == 3
    resume = ["resume", "--last", "--home", str(tmp_path), "-q"]
    for how in ("--otel-endpoint", "env"):
        with Receiver() as receiver:
            if how == "env":
                monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
                result = runner.invoke(app, resume)
            else:
                result = runner.invoke(app, [*resume, "--otel-endpoint", receiver.url])
            assert result.exit_code == 0, result.output
            log = sorted((tmp_path / "runs").glob("*/events.jsonl"))[-1]
            events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
            assert events[0]["resumed_from"]
            spans = receiver.wait_for(span_events(events))
        assert {s.trace_id.hex() for s in spans} == {events[0]["trace_id"]}
        assert not [e for e in events if e["type"] == "warning"]
        # the next pass resumes the same stopped run again: make it resumable
        log.parent.rename(tmp_path / f"done-{how}")


@pytest.mark.parametrize(
    ("variables", "seconds"),
    [
        ({}, 7.0),
        ({"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}, 2.5),  # the specification's milliseconds
        ({"OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "400"}, 0.4),
    ],
)
def test_the_timeout_variables_set_the_exports_timeout(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], seconds: float
) -> None:
    from mas_cli.export.endpoint import TIMEOUT_VARS, timeout_s

    for name in TIMEOUT_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert timeout_s(7.0) == seconds


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan", "inf"])
def test_a_timeout_that_is_no_timeout_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", value)
    run_live(tmp_path, "-q")
    result = runner.invoke(app, ["export", "--home", str(tmp_path), "--endpoint", "http://h:4318"])
    assert result.exit_code == 2, result.output
    assert "OTEL_EXPORTER_OTLP_TIMEOUT" in result.stderr
    assert "is not a timeout" in result.stderr
