"""Each event is serialized once on its way to the log, and what is written holds no secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mas_cli.engine.context import Sink
from mas_cli.events.models import Event, TaskStarted
from mas_cli.events.writer import EventWriter
from mas_cli.redact import Secrets

SECRET = "sk-test-0123456789abcdefghij"


def _sink(tmp_path: Path, heard: list[Event]) -> Sink:
    writer = EventWriter(tmp_path / "events.jsonl")
    return Sink(writer, "run-1", "trace-1", [heard.append], Secrets.of(SECRET))


def test_an_event_without_secrets_is_serialized_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    real = Event.model_dump_json

    def counted(self: Event, **kwargs: Any) -> str:
        made.append(self.type)
        return real(self, **kwargs)

    monkeypatch.setattr(Event, "model_dump_json", counted)
    sink = _sink(tmp_path, [])
    with sink.writer:
        sink.emit(TaskStarted(agent="a", task="t", depends_on=["x"]), None)
    assert made == ["task_started"]
    assert json.loads((tmp_path / "events.jsonl").read_text())["depends_on"] == ["x"]


def test_a_secret_is_masked_in_the_line_and_for_listeners(tmp_path: Path) -> None:
    heard: list[Event] = []
    sink = _sink(tmp_path, heard)
    with sink.writer:
        sink.emit(TaskStarted(agent="a", task="t", depends_on=[f"key {SECRET} here"]), None)
        sink.emit(TaskStarted(agent="a", task="u", depends_on=[json.dumps(SECRET)]), None)
    text = (tmp_path / "events.jsonl").read_text()
    assert SECRET not in text
    assert [json.loads(line)["depends_on"] for line in text.splitlines()] == [
        ["key *** here"],
        ['"***"'],
    ]
    assert all(SECRET not in e.model_dump_json() for e in heard)
    assert len(heard) == 2
