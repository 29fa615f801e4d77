"""The Temporal paths of the CLI that need no server: the extra missing, a service that cannot be
reached, options that do not go together, `mas batch status` of a local batch, and how an
item's logs travel (fleet/runfiles.py). The tier (tests/realservers/test_temporal.py) runs
batches on a real server."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mas_cli.cli.app import app
from mas_cli.fleet.runfiles import Tail, write_runs

CREW = Path(__file__).resolve().parent.parent / "crews" / "fraud-review" / "crew.yaml"
runner = CliRunner()


def mas(*args: str) -> Any:
    return runner.invoke(app, list(args))


def items(tmp_path: Path, count: int = 2) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps({"transaction": f"tx-{i}"}) + "\n" for i in range(count)))
    return path


@pytest.fixture
def no_temporalio(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "temporalio" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


@pytest.mark.usefixtures("no_temporalio")
def test_without_the_extra_the_temporal_engine_says_what_to_install(tmp_path: Path) -> None:
    for args in (
        ["batch", str(CREW), "--inputs", str(items(tmp_path)), "--engine", "temporal"],
        ["worker", str(CREW)],
    ):
        result = mas(*args)
        assert result.exit_code == 2, result.output
        assert "--engine temporal needs the Temporal SDK" in result.stderr
        assert "pip install 'mas-cli[temporal]'" in result.stderr
        assert "Traceback" not in result.output


def test_a_service_that_cannot_be_reached_is_named_with_the_fix(
    tmp_path: Path, clean_env: Path
) -> None:
    args = ["batch", str(CREW), "--inputs", str(items(tmp_path)), "--offline"]
    result = mas(*args, "--engine", "temporal", "--address", "127.0.0.1:1")
    assert result.exit_code == 2, result.output
    assert "cannot reach Temporal at 127.0.0.1:1 (namespace default)" in result.stderr
    assert "temporal server start-dev" in result.stderr
    assert not (clean_env / "batches").exists() or not list((clean_env / "batches").iterdir())


@pytest.mark.parametrize("address", ["127.0.0.1:172333", "", "127.0.0.1:-1"])
def test_an_address_that_is_no_address_is_a_usage_error_not_a_bug(
    tmp_path: Path, clean_env: Path, address: str
) -> None:
    args = ["batch", str(CREW), "--inputs", str(items(tmp_path)), "--offline"]
    for command in (
        [*args, "--engine", "temporal", "--address", address],
        ["worker", str(CREW), "--address", address],
    ):
        result = mas(*command)
        assert result.exit_code == 2, result.output
        assert f"--address {address!r}: not a Temporal address" in result.stderr
        assert "give HOST:PORT" in result.stderr
        assert "bug in mas" not in result.stderr
    assert not (clean_env / "batches").exists() or not list((clean_env / "batches").iterdir())


def test_a_bad_continue_threshold_is_refused_before_anything_is_made(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAS_TEMPORAL_CONTINUE_AT", "50")
    args = ["batch", str(CREW), "--inputs", str(items(tmp_path)), "--offline"]
    result = mas(*args, "--engine", "temporal", "--address", "127.0.0.1:1")
    assert result.exit_code == 2, result.output
    assert "MAS_TEMPORAL_CONTINUE_AT=50" in result.stderr
    assert "from 100 to 35,000" in result.stderr
    assert "Traceback" not in result.output
    assert not (clean_env / "batches").exists() or not list((clean_env / "batches").iterdir())


def test_an_unknown_engine_and_a_stray_argument_are_usage_errors(tmp_path: Path) -> None:
    result = mas("batch", str(CREW), "--inputs", str(items(tmp_path)), "--engine", "cloud")
    assert result.exit_code == 2
    assert "--engine 'cloud': not an engine (local or temporal)" in result.stderr
    assert mas("batch", str(CREW), "extra", "--inputs", "x.jsonl").exit_code == 2
    assert "give the items with --inputs" in mas("batch", str(CREW)).stderr
    assert "mas batch status BATCH_ID" in mas("batch", "status").stderr


def test_batch_status_of_a_local_batch(tmp_path: Path, clean_env: Path) -> None:
    done = mas("batch", str(CREW), "--inputs", str(items(tmp_path, 3)), "--offline", "-q")
    assert done.exit_code == 0, done.output
    (folder,) = (clean_env / "batches").iterdir()
    result = mas("batch", "status", folder.name, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["batch_id"], shown["status"], shown["counts"]["ok"]) == (
        folder.name,
        "finished",
        3,
    )


def test_a_temporal_batch_keeps_its_options_on_resume(tmp_path: Path, clean_env: Path) -> None:
    folder = clean_env / "batches" / "b-20260101T000000000-abcdef"
    folder.mkdir(parents=True)
    info = {"batch_id": folder.name, "engine": "temporal", "status": "running", "pid": None,
            "temporal": {"address": "127.0.0.1:1", "namespace": "default", "task_queue": "q"}}  # fmt: skip
    (folder / "batch.json").write_text(json.dumps(info))
    result = mas("resume", folder.name, "--max-cost-usd", "2")
    assert result.exit_code == 2
    assert "keeps the options it began with" in result.stderr
    result = mas("resume", folder.name)
    assert result.exit_code == 2
    assert "cannot reach Temporal at 127.0.0.1:1" in result.stderr


def test_logs_travel_whole_lines_once_and_come_back_as_written(tmp_path: Path) -> None:
    here, there = Tail(tmp_path / "here"), Tail(tmp_path / "there")
    run = tmp_path / "here" / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "events.jsonl").write_bytes(b'{"a":1}\n{"b":')  # a line half-written
    (run / "llm.jsonl").write_bytes(b"")
    here.add("r1")
    first = here.chunks()
    assert [(c.name, c.at) for c in first] == [("events.jsonl", 0)]
    (run / "events.jsonl").write_bytes(b'{"a":1}\n{"b":2}\n')
    second = here.chunks()
    assert [(c.name, c.at) for c in second] == [("events.jsonl", 8)]
    assert here.chunks() == []
    # Saved twice and out of order: each line restored once, in order.
    assert there.restore([*second, *first, *first]) == "r1"
    restored = tmp_path / "there" / "runs" / "r1" / "events.jsonl"
    assert restored.read_bytes() == b'{"a":1}\n{"b":2}\n'
    assert there.chunks() == []  # what was restored is not sent again
    (run / "output.json").write_text("{}")
    (run / "run.lock").write_text("")
    packed = here.folders(remove=True)
    assert not run.exists()
    write_runs(tmp_path / "home", packed)
    back = tmp_path / "home" / "runs" / "r1"
    assert sorted(p.name for p in back.iterdir()) == ["events.jsonl", "llm.jsonl", "output.json"]
