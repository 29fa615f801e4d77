"""What a new user reaches for: required inputs, filtering and pruning runs, `mas init`."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from crewkit import write_crew
from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

CITY = """
name: climate
inputs:
  city: {description: The city to look up}
  note: {required: false}
models: {m: offline}
agents: {a: {role: Researcher, model: m}}
tasks:
  - {id: t, agent: a, prompt: "Look up the climate of {city}.{note}"}
"""


def mas(*args: str) -> object:
    return runner.invoke(app, list(args))


def test_an_input_without_default_is_required(tmp_path: Path) -> None:
    crew = write_crew(tmp_path, CITY)
    result = mas("run", str(crew), "-q")
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "missing required input: city: The city to look up" in result.stderr  # type: ignore[attr-defined]
    assert "--input city=..." in result.stderr  # type: ignore[attr-defined]
    ok = mas("run", str(crew), "-q", "-i", "city=Oslo", "--json")
    assert ok.exit_code == 0, ok.stderr  # type: ignore[attr-defined]


def test_validate_says_which_inputs_are_required(tmp_path: Path) -> None:
    result = mas("validate", str(write_crew(tmp_path, CITY)))
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert "city  required: give --input city=..." in result.stdout  # type: ignore[attr-defined]
    assert "note  optional" in result.stdout  # type: ignore[attr-defined]
    summary = json.loads(mas("validate", str(tmp_path / "crew.yaml"), "--json").stdout)  # type: ignore[attr-defined]
    inputs = (
        summary[0]["summary"]["inputs"]
        if isinstance(summary, list)
        else summary["summary"]["inputs"]
    )
    assert [(i["name"], i["required"]) for i in inputs] == [("city", True), ("note", False)]


def _runs(home: Path, *args: str) -> list[dict[str, object]]:
    result = mas("runs", "--home", str(home), "--json", *args)
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    return json.loads(result.stdout)  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def two_crews(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    for crew in ("support-ticket", "runaway-rescoring"):
        path = str(ROOT / "crews" / crew / "crew.yaml")
        mas("run", path, "--offline", "-q", "--home", str(home))
    return home


def test_runs_filter_by_crew_status_and_since(two_crews: Path) -> None:
    assert [r["crew"] for r in _runs(two_crews)] == ["runaway-rescoring", "support-ticket"]
    assert [r["crew"] for r in _runs(two_crews, "--crew", "support-ticket")] == ["support-ticket"]
    assert [r["status"] for r in _runs(two_crews, "--status", "stopped")] == ["stopped"]
    assert _runs(two_crews, "--status", "failed") == []
    assert len(_runs(two_crews, "--since", "1h")) == 2
    assert _runs(two_crews, "--since", "2999-01-01") == []


def test_runs_filters_answer_typos(two_crews: Path) -> None:
    crew = mas("runs", "--home", str(two_crews), "--crew", "suport-ticket")
    assert crew.exit_code == 2  # type: ignore[attr-defined]
    assert "did you mean 'support-ticket'?" in crew.stderr  # type: ignore[attr-defined]
    status = mas("runs", "--home", str(two_crews), "--status", "stoped")
    assert status.exit_code == 2  # type: ignore[attr-defined]
    assert "did you mean 'stopped'?" in status.stderr  # type: ignore[attr-defined]
    since = mas("runs", "--home", str(two_crews), "--since", "yesterday")
    assert since.exit_code == 2  # type: ignore[attr-defined]
    assert "--since 'yesterday' is not a span or a date" in since.stderr  # type: ignore[attr-defined]


def _fake_run(home: Path, run_id: str, *, finished: bool = True, age_s: float = 0) -> Path:
    folder = home / "runs" / run_id
    folder.mkdir(parents=True)
    lines = [{"type": "run_started", "run_id": run_id, "crew": "c", "ts": "2020-01-01T00:00:00Z"}]
    if finished:
        lines.append({"type": "run_finished", "status": "ok"})
    log = folder / "events.jsonl"
    log.write_text("".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines))
    os.utime(log, (time.time() - age_s, time.time() - age_s))
    return folder


def test_prune_keeps_the_newest_and_leaves_the_cache(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ids = [f"2026010{d}T000000000-aaaaa{d}" for d in range(1, 6)]
    for run_id in ids:
        _fake_run(home, run_id, age_s=7200)
    (home / "cache").mkdir()
    (home / "cache" / "cache.db").write_bytes(b"entries")
    dry = mas("runs", "prune", "--home", str(home), "--keep", "2", "--dry-run")
    assert dry.exit_code == 0  # type: ignore[attr-defined]
    assert "would remove 3 runs" in dry.stdout  # type: ignore[attr-defined]
    assert len(list((home / "runs").iterdir())) == 5
    result = mas("runs", "prune", "--home", str(home), "--keep", "2")
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert "removed 3 runs" in result.stdout  # type: ignore[attr-defined]
    assert sorted(p.name for p in (home / "runs").iterdir()) == ids[-2:]
    assert (home / "cache" / "cache.db").read_bytes() == b"entries"


def test_prune_older_than_spares_a_run_that_may_be_live(tmp_path: Path) -> None:
    home = tmp_path / "home"
    old = _fake_run(home, "20200101T000000000-old000", age_s=7200)
    live = _fake_run(home, "20200102T000000000-live00", finished=False)
    killed = _fake_run(home, "20200103T000000000-dead00", finished=False, age_s=7200)
    recent = _fake_run(home, "29990101T000000000-new000")
    result = mas("runs", "prune", "--home", str(home), "--older-than", "30d")
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    assert not old.exists()
    assert not killed.exists()
    assert live.exists()
    assert recent.exists()
    assert "may still be running" in result.stderr  # type: ignore[attr-defined]


def test_prune_removes_a_planted_link_never_its_target(tmp_path: Path) -> None:
    home = tmp_path / "home"
    victim = _fake_run(tmp_path / "elsewhere", "20200101T000000000-victim")
    (home / "runs").mkdir(parents=True)
    (home / "runs" / "20200101T000000000-link00").symlink_to(victim, target_is_directory=True)
    result = mas("runs", "prune", "--home", str(home), "--keep", "0")
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    assert (victim / "events.jsonl").is_file()
    assert not (home / "runs" / "20200101T000000000-link00").exists()


def test_prune_needs_a_rule(tmp_path: Path) -> None:
    result = mas("runs", "prune", "--home", str(tmp_path))
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "--older-than 30d, or --keep 50" in result.stderr  # type: ignore[attr-defined]


def test_init_writes_a_crew_that_validates_and_runs_offline(tmp_path: Path) -> None:
    folder = tmp_path / "mycrew"
    result = mas("init", str(folder))
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    crew = folder / "crew.yaml"
    assert f"mas run {crew} --offline" in result.stderr  # type: ignore[attr-defined]
    strict = mas("validate", "--strict", str(crew))
    assert strict.exit_code == 0, strict.stdout + strict.stderr  # type: ignore[attr-defined]
    assert "warning" not in strict.stderr  # type: ignore[attr-defined]
    ran = mas("run", str(crew), "--offline", "-q", "--json")
    assert ran.exit_code == 0, ran.stderr  # type: ignore[attr-defined]
    output = json.loads(ran.stdout)  # type: ignore[attr-defined]
    assert output["tasks"]["brief"]["status"] == "ok"
    assert 0 <= output["tasks"]["brief"]["data"]["confidence"] <= 1
    assert "A circuit breaker stops calls" in output["tasks"]["research"]["output"]
    tools = mas("tool-test", "--all", "--crew", str(crew))
    assert tools.exit_code == 0, tools.stdout  # type: ignore[attr-defined]


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    (tmp_path / "crew.yaml").write_text("mine")
    result = mas("init", str(tmp_path))
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "--force" in result.stderr  # type: ignore[attr-defined]
    assert (tmp_path / "crew.yaml").read_text() == "mine"
    assert mas("init", str(tmp_path), "--force").exit_code == 0  # type: ignore[attr-defined]
    assert (tmp_path / "crew.yaml").read_text() != "mine"
