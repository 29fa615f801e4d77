"""`mas triage state` says only what is true: ordered writes are no conflict, a broken schema is
refused, and the crew a run names is the schema when none is given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from crewkit import run as run_crew
from crewkit import write_crew
from triage_logs import jsonl, mas_event
from typer.testing import CliRunner

from mas_cli.cli import app

runner = CliRunner()

CHAIN = """\
name: chain
process: {process}
models: {{m: offline}}
state:
  score: {{type: number, minimum: 0, maximum: 1}}
agents:
  a: {{role: A, model: m}}
  b: {{role: B, model: m}}
  c: {{role: C, model: m}}
tasks:
  - id: first
    agent: a
    prompt: "Score it."
    output_schema: {{type: object, required: [score], properties: {{score: {{type: number}}}}}}
    writes: [score]
  - {{id: middle, agent: b, depends_on: [first], prompt: "Check {{first}}."}}
  - id: last
    agent: c
    depends_on: [{last_after}]
    prompt: "Score it again."
    output_schema: {{type: object, required: [score], properties: {{score: {{type: number}}}}}}
    writes: [score]
"""


def triage_state(*argv: str) -> Any:
    return runner.invoke(app, ["triage", "state", *argv])


def started(task: str, *deps: str) -> dict[str, Any]:
    return mas_event("task_started", 1, agent="x", task=task, depends_on=list(deps))


def wrote(n: int, task: str, read: int, version: int) -> dict[str, Any]:
    fields = {"key": "score", "value": 0.5, "read_version": read, "version": version}
    return mas_event("state_write", n, agent="x", task=task, writer=task, accepted=True, **fields)


def seeded(tmp_path: Path, process: str, *events: dict[str, Any]) -> Path:
    head = mas_event("run_started", 0, crew="chain", crew_path="gone.yaml", process=process)
    log = tmp_path / "events.jsonl"
    log.write_text(jsonl([head, *events]))
    return log


@pytest.fixture
def schema(tmp_path: Path) -> Path:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"score": {"type": "number"}}))
    return path


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"score": {"value": 0.5, "version": 2, "writer": "last"}}))
    return path


# --- writes ordered by depends_on are not conflicts -----------------------------------------


def test_a_write_ordered_by_depends_on_transitively_is_no_conflict(
    tmp_path: Path, schema: Path, state: Path
) -> None:
    events = [started("first"), wrote(2, "first", 0, 1), started("middle", "first")]
    log = seeded(tmp_path, "parallel", *events, started("last", "middle"), wrote(4, "last", 1, 2))
    result = triage_state(str(state), "--schema", str(schema), "--log", str(log), "--json")
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["problems"] == []


def test_writes_of_tasks_that_run_at_once_still_conflict(
    tmp_path: Path, schema: Path, state: Path
) -> None:
    events = [started("first"), started("last"), wrote(2, "first", 0, 1), wrote(3, "last", 1, 2)]
    log = seeded(tmp_path, "parallel", *events)
    result = triage_state(str(state), "--schema", str(schema), "--log", str(log), "--json")
    assert result.exit_code == 1
    [problem] = json.loads(result.stdout)["problems"]
    assert problem["kind"] == "conflict"
    assert "make the second task depend_on the first" in problem["hint"]


@pytest.mark.parametrize(
    ("process", "last_after"), [("parallel", "middle"), ("sequential", "first")]
)
def test_a_crew_run_whose_writers_are_ordered_has_clean_state(
    tmp_path: Path, clean_env: Path, process: str, last_after: str
) -> None:
    crew = write_crew(tmp_path / "crew", CHAIN.format(process=process, last_after=last_after))
    result = run_crew(crew, clean_env)
    folder = Path(result.run_dir)
    checked = triage_state(
        str(folder / "state.json"), "--crew", str(crew), "--log", str(folder / "events.jsonl")
    )
    assert checked.exit_code == 0, checked.stdout
    assert "state is clean" in checked.stdout


# --- an invalid --schema is refused -----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"type": "objekt"}, "type: 'objekt' is not a JSON Schema type (did you mean 'object'?)"),
        (
            {"type": "object", "properties": {"score": {"type": "numbr"}}},
            "properties.score.type: 'numbr' is not a JSON Schema type (did you mean 'number'?)",
        ),
        ({"score": {"minimum": "zero"}}, "score.minimum: not valid JSON Schema"),
        ({"type": "object"}, "the schema names no state keys"),
        ({"score": 3}, "score: expected a JSON Schema"),
    ],
)
def test_an_invalid_schema_is_refused_with_where_and_how(
    tmp_path: Path, state: Path, content: dict[str, Any], message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(content))
    result = triage_state(str(state), "--schema", str(bad))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {bad}: {message}")
    assert "(" in result.stderr.splitlines()[-1]  # a hint: how to fix it
    assert "unknown" not in result.stderr


# --- the crew the run names -------------------------------------------------------------------


def ran_from(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the chain crew as a user does, `mas run crew.yaml` in its folder; its run folder."""
    write_crew(folder, CHAIN.format(process="parallel", last_after="middle"))
    monkeypatch.chdir(folder)
    result = runner.invoke(app, ["run", "crew.yaml", "--offline", "--home", ".mas", "-q"])
    assert result.exit_code == 0, result.stderr
    return next((folder / ".mas" / "runs").iterdir())


def test_the_crew_named_by_the_run_is_the_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = ran_from(tmp_path / "project", monkeypatch)
    monkeypatch.chdir(tmp_path)  # elsewhere: crew.yaml is relative to where the run started
    by_log = triage_state(str(run_dir / "state.json"), "--log", str(run_dir / "events.jsonl"))
    assert by_log.exit_code == 0, by_log.stderr
    crew = tmp_path / "project" / "crew.yaml"
    assert f"crew {crew} (named by the run log)" in by_log.stdout
    beside = triage_state(str(run_dir / "state.json"), "--json")  # the log beside the state
    assert beside.exit_code == 0, beside.stderr
    assert json.loads(beside.stdout)["schema"] == f"crew {crew} (named by the run log)"


def test_a_crew_file_that_moved_is_said_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = ran_from(tmp_path / "project", monkeypatch)
    (tmp_path / "project" / "crew.yaml").rename(tmp_path / "project" / "old.yaml")
    result = triage_state(str(run_dir / "state.json"), "--log", str(run_dir / "events.jsonl"))
    assert result.exit_code == 2
    # A run records its crew file where it is (a relative one, of older logs: tested above)
    moved = tmp_path / "project" / "crew.yaml"
    assert f"names its crew file {moved}, which is no longer there (moved" in result.stderr
    assert "--crew CREW.yaml" in result.stderr


def test_an_older_log_with_a_relative_crew_path_is_looked_up_where_it_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logs written before runs recorded the crew file's whole path name it as typed: it is
    looked for from the folder holding the `.mas` home, and a file gone from there is said so."""
    run_dir = ran_from(tmp_path / "project", monkeypatch)
    log = run_dir / "events.jsonl"
    lines = log.read_text().splitlines()
    head = json.loads(lines[0])
    head["crew_path"] = "crew.yaml"
    log.write_text("\n".join([json.dumps(head), *lines[1:]]) + "\n")
    monkeypatch.chdir(tmp_path)
    found = triage_state(str(run_dir / "state.json"), "--log", str(log))
    assert found.exit_code == 0, found.stderr
    (tmp_path / "project" / "crew.yaml").rename(tmp_path / "project" / "old.yaml")
    gone = triage_state(str(run_dir / "state.json"), "--log", str(log))
    assert gone.exit_code == 2
    assert "names its crew file crew.yaml, relative to the folder the run was" in gone.stderr
    assert f"it is not in {tmp_path / 'project'}" in gone.stderr


def test_a_crew_file_now_of_another_crew_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = ran_from(tmp_path / "project", monkeypatch)
    crew = tmp_path / "project" / "crew.yaml"
    crew.write_text(crew.read_text().replace("name: chain", "name: other"))
    result = triage_state(str(run_dir / "state.json"))
    assert result.exit_code == 2
    assert "is now crew 'other', but the run log" in result.stderr


def test_an_absolute_crew_path_that_is_gone(
    tmp_path: Path, schema: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "gone.yaml"
    head = mas_event("run_started", 0, crew="c", crew_path=str(gone), process="parallel")
    (tmp_path / "events.jsonl").write_text(jsonl([head]))
    result = triage_state(str(state))
    assert result.exit_code == 2
    assert f"names its crew file {gone}, which is no longer there (moved or deleted)" in (
        result.stderr
    )
