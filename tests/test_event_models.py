"""Events are typed where they are built: the writer refuses a field an event does not declare,
the sink fills the envelope, and every reader of our log still reads fields it does not know."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from crewkit import events, of_type, run, write_crew
from pydantic import ValidationError
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.engine.context import Sink
from mas_cli.events.models import EVENT_ADAPTER, LlmCall, RunFinished, TaskStarted, read_event
from mas_cli.events.reader import LogReader
from mas_cli.events.writer import EventWriter
from mas_cli.llm.types import CallSite

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _unknown(**fields: Any) -> dict[str, Any]:
    return {"provider": "openai", "model": "m", **fields}


def test_an_event_refuses_a_field_it_does_not_declare() -> None:
    with pytest.raises(ValidationError) as raised:
        LlmCall(**_unknown(input_token=1234))
    (error,) = raised.value.errors()
    assert error["type"] == "extra_forbidden"
    assert error["loc"] == ("input_token",)


def test_validating_as_a_writer_refuses_it_too() -> None:
    line = {"type": "llm_call", "ts": "t", "run_id": "r", "trace_id": "x", "span_id": "s"}
    with pytest.raises(ValidationError, match="input_token"):
        EVENT_ADAPTER.validate_python({**line, **_unknown(input_token=1234)})


def test_nothing_reaches_the_log_when_an_event_cannot_be_built(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventWriter(path) as writer:
        sink = Sink(writer, "run-1", "trace-1")
        with pytest.raises(ValidationError):
            sink.emit(LlmCall(**_unknown(input_token=1234)), None)
        sink.emit(LlmCall(**_unknown(input_tokens=1234)), None)
    (line,) = path.read_text().splitlines()
    assert json.loads(line)["input_tokens"] == 1234
    assert "input_token" not in json.loads(line)


def test_the_sink_fills_the_envelope_and_the_call_site(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with EventWriter(path) as writer:
        sink = Sink(writer, "run-1", "trace-1")
        task_span = sink.emit(TaskStarted(agent="a", task="t"), "run-span")
        call_span = sink.emit(
            LlmCall(provider="openai", model="m"), CallSite("a", "t", 3, span=task_span)
        )
    started, call = (json.loads(line) for line in path.read_text().splitlines())
    assert started["parent_id"] == "run-span"
    assert started["span_id"] == task_span
    assert "turn" not in started
    assert call["run_id"] == "run-1"
    assert call["trace_id"] == "trace-1"
    assert call["span_id"] == call_span != task_span
    assert call["parent_id"] == task_span
    assert (call["agent"], call["task"], call["turn"]) == ("a", "t", 3)
    assert call["ts"].endswith("Z")


def test_the_writer_refuses_an_event_without_its_envelope(tmp_path: Path) -> None:
    unstamped = LlmCall(provider="openai", model="m")
    with (
        EventWriter(tmp_path / "events.jsonl") as writer,
        pytest.raises(ValueError, match="LlmCall without its envelope"),
    ):
        writer.emit(unstamped)
    assert (tmp_path / "events.jsonl").read_text() == ""


def test_a_reader_drops_fields_it_does_not_know() -> None:
    line = {"type": "llm_call", "ts": "t", "run_id": "r", "trace_id": "x", "span_id": "s"}
    event = read_event(json.dumps({**line, **_unknown(input_token=5, later={"a": [1]})}))
    assert isinstance(event, LlmCall)
    assert event.input_tokens == 0
    assert event.model_extra in (None, {})


@pytest.mark.parametrize("missing", ["ts", "run_id", "trace_id", "span_id"])
def test_a_line_without_its_envelope_is_not_an_event(missing: str) -> None:
    line = {"type": "llm_call", "ts": "t", "run_id": "r", "trace_id": "x", "span_id": "s"}
    del line[missing]
    with pytest.raises(ValidationError, match=missing):
        read_event(json.dumps({**line, **_unknown()}))


def _reports(home: Path, run_id: str) -> dict[str, str]:
    """What each reader of our log says about the run, as JSON where it can."""
    asked = {
        "show": ["show", run_id, "--json", "--full"],
        "runs": ["runs", "--json"],
        "cost": ["cost-report", run_id, "--json"],
        "loops": ["triage", "loops", str(home / "runs" / run_id / "events.jsonl")],
    }
    said = {}
    for name, args in asked.items():
        done = runner.invoke(app, [*args, "--home", str(home)] if name != "loops" else args)
        assert done.exit_code in (0, 1), (name, done.stdout, done.stderr)
        said[name] = done.stdout
    return said


def _with_unknown_fields(path: Path) -> None:
    """Every line gains fields a newer mas might write: a plain value, an object, a list."""
    lines = []
    for number, text in enumerate(path.read_text().splitlines()):
        doc = json.loads(text)
        doc.update(from_a_newer_mas=number, nested_extra={"k": [1, 2]}, forked_from="r0")
        lines.append(json.dumps(doc))
    path.write_text("\n".join(lines) + "\n")


def test_every_reader_reads_a_log_with_fields_it_does_not_know(clean_env: Path) -> None:
    crew = ROOT / "crews" / "support-ticket" / "crew.yaml"
    home = clean_env
    done = runner.invoke(app, ["run", str(crew), "-q", "--offline", "--home", str(home)])
    assert done.exit_code == 0, done.stderr
    (run_dir,) = (home / "runs").iterdir()
    before = _reports(home, run_dir.name)
    _with_unknown_fields(run_dir / "events.jsonl")
    reader = LogReader(run_dir / "events.jsonl")
    events = list(reader)
    assert reader.skipped == 0
    assert isinstance(events[-1], RunFinished)
    assert _reports(home, run_dir.name) == before
    assert all(run_dir.name in said for said in (before["show"], before["runs"], before["cost"]))
    assert "from_a_newer_mas" not in before["show"]


RETRIED = """
name: retried
limits: {retry_backoff_s: 0}
agents:
  a:
    role: A
    model: offline
    script:
      turns:
        - {error: {status: 429, message: slow down, retry_after_s: 0}}
        - {error: {status: 503}}
        - {text: fine}
        - {text: second task}
tasks:
  - {id: work, agent: a, prompt: Work.}
  - {id: more, agent: a, prompt: More., depends_on: [work]}
"""


def _sites(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["agent"], e["task"], e["turn"], e["attempt"]) for e in items]


def test_one_call_site_reaches_the_log_the_recording_and_replay(
    tmp_path: Path, clean_env: Path
) -> None:
    """The attempt is numbered once, by the engine; the recording writes the number it is
    given and replay looks it up, so the three agree, and a replay of a retried call works."""
    crew = write_crew(tmp_path / "c", RETRIED)
    first = run(crew, clean_env)
    log = events(first)
    calls = of_type(log, "llm_call")
    recorded = (Path(first.run_dir) / "llm.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in recorded]
    expected = [("a", "work", 1, 1), ("a", "work", 1, 2), ("a", "work", 1, 3), ("a", "more", 1, 1)]
    assert _sites(calls) == _sites(records) == expected
    retries = of_type(log, "retry")
    assert [r["attempt"] for r in retries] == [2, 3]
    assert {e["parent_id"] for e in calls[:3] + retries} == {calls[0]["parent_id"]}
    again = run(crew, clean_env, offline=False, replay=first.run_dir)
    assert again.status == "ok", again.tasks
    assert _sites(of_type(events(again), "llm_call")) == expected


def test_now_iso_is_the_utc_time_in_microseconds_across_second_boundaries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time
    from datetime import UTC, datetime, timedelta

    from mas_cli.events import writer

    before = datetime.now(UTC)
    stamp = writer.now_iso()
    assert before <= datetime.fromisoformat(stamp.replace("Z", "+00:00")) <= datetime.now(UTC)
    start = 1_796_550_337_999_999_500  # ns: half a microsecond before a second turns
    clock = [start + n * 250 for n in range(8)] + [start + 86_400 * 10**9, start, 10**9 - 1]
    for ns in clock:  # the cached second must turn (and turn back) exactly
        monkeypatch.setattr(time, "time_ns", lambda ns=ns: ns)
        expected = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)
        got = writer.now_iso()
        assert got == expected.isoformat(timespec="microseconds").replace("+00:00", "Z"), ns
