"""`mas batch --workers N`: a local batch across worker processes keeps every promise of a
batch in one process: one budget for all workers (in flight included), the breaker, the same
results and dead letters, Ctrl-C then `mas resume`, and a worker that dies loses no item."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from crewkit import write_crew
from fakeserver import FakeServer, Greedy, Reply, error, openai_text
from test_batch import (
    SLOW_CREW,
    items_file,
    jsonl,
    mas,
    resumed_batch,
    run_events,
    the_batch,
    wire_crew,
)

from mas_cli.batch.start import AUTO_WORKERS_FROM, auto_workers


def test_a_batch_budget_is_never_passed_with_fifty_items_in_flight_over_two_workers(
    tmp_path: Path, clean_env: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAS_TEST_KEY", "sk-test")
    greedy = Greedy()  # every call bills the largest output allowed and all the input it can
    greedy.install(server)
    crew = wire_crew(tmp_path / "crew", server)
    items = items_file(tmp_path / "items.jsonl", [{"item": f"x{n}"} for n in range(300)])
    budget = "0.02"
    result = mas(
        "batch", str(crew), "--inputs", str(items), "-c", "50", "-w", "2",
        "--max-cost-usd", budget, "-q",
    )  # fmt: skip
    assert result.exit_code == 3, result.stderr
    assert "max_cost_usd 0.02 for the batch" in result.stderr
    calls = [e for e in run_events(clean_env) if e["type"] == "llm_call"]
    spent = sum(Decimal(str(e["cost_usd"])) for e in calls)
    billed = sum(Decimal(i) * 1 / 10**6 + Decimal(o) * 4 / 10**6 for i, o in greedy.billed)
    assert spent == billed
    assert 0 < spent <= Decimal(budget)
    assert len(greedy.billed) > 10  # both workers ran calls at once until it was nearly spent
    info = json.loads((the_batch(clean_env) / "batch.json").read_text())
    assert Decimal(str(info["cost_usd"])) == spent
    assert info["options"]["workers"] == 2
    assert info["counts"]["ok"] + info["counts"]["stopped"] < 300
    assert len({e["run_id"] for e in calls}) > 1


def test_a_batch_llm_call_budget_counts_calls_in_flight_in_every_worker(
    tmp_path: Path, clean_env: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAS_TEST_KEY", "sk-test")
    server.openai.handler = lambda _body: Reply(json=openai_text("ok").json, delay_s=0.05)
    crew = wire_crew(tmp_path / "crew", server)
    items = items_file(tmp_path / "items.jsonl", [{"item": f"x{n}"} for n in range(100)])
    result = mas(
        "batch", str(crew), "--inputs", str(items), "-c", "50", "-w", "3",
        "--max-llm-calls", "17", "-q",
    )  # fmt: skip
    assert result.exit_code == 3, result.stderr
    assert len(server.requests("/v1/chat/completions")) == 17
    folder = the_batch(clean_env)
    results = jsonl(folder / "results.jsonl")
    assert sum(r["status"] == "ok" for r in results) == 17
    assert sum(r["status"] == "stopped" for r in results) == 50 - 17  # refused, in flight
    assert len(results) == 50  # no item started after the budget refused a call
    assert (folder / "dead.jsonl").read_text() == ""  # stopped by the batch: not dead letters
    assert json.loads((folder / "batch.json").read_text())["llm_calls"] == 17


def test_a_batch_over_workers_whose_key_expired_stops_on_the_breaker(
    tmp_path: Path, clean_env: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAS_TEST_KEY", "sk-test-123")
    answered: list[Any] = []

    def answer(body: Any) -> Reply:
        answered.append(body)
        if len(answered) <= 3:
            return openai_text("fine")
        return error(401, "Incorrect API key provided: sk-test-123", code="invalid_api_key")

    server.openai.handler = answer
    crew = wire_crew(tmp_path / "crew", server)
    items = items_file(tmp_path / "items.jsonl", [{"item": f"x{n}"} for n in range(200)])
    result = mas(
        "batch", str(crew), "--inputs", str(items), "-c", "2", "-w", "2", "--breaker", "5", "-q"
    )
    assert result.exit_code == 3, result.stderr
    assert "breaker" in result.stderr
    assert "HTTP 401" in result.stderr
    assert "sk-test-123" not in result.stderr
    folder = the_batch(clean_env)
    results = jsonl(folder / "results.jsonl")
    failed = [r for r in results if r["status"] == "failed"]
    assert 5 <= len(failed) <= 5 + 2  # the breaker's five, and at most the items in flight
    assert len(answered) < 20
    assert not list(folder.glob("worker-*.err"))  # workers that said nothing leave no file


OFFLINE = """
    name: offline-batch
    inputs:
      item: {description: The item}
    models:
      m: {provider: openai, model: gpt-4o-mini}
    agents:
      a: {role: Answerer, model: m}
    tasks:
      - {id: answer, agent: a, prompt: "Answer {item}."}
"""


def test_workers_write_the_results_and_dead_letters_one_process_writes(
    tmp_path: Path, clean_env: Path
) -> None:
    crew = write_crew(tmp_path / "crew", OFFLINE)
    rows = [{"id": f"k{n}", "item": f"x{n}"} for n in range(40)]
    lines = "".join(json.dumps(r) + "\n" for r in rows[:20]) + "not json\n"
    lines += "".join(json.dumps(r) + "\n" for r in rows[10:])  # ten repeats
    items = tmp_path / "items.jsonl"
    items.write_text(lines, encoding="utf-8")
    seen = {}
    for workers in ("1", "2"):
        home = tmp_path / f"home{workers}"
        args = ("--inputs", str(items), "--key", "id", "--offline", "-c", "8", "-w", workers)
        result = mas("batch", str(crew), *args, "--home", str(home), "-q", "--json")
        assert result.exit_code == 1, result.stderr  # the bad line: a dead letter
        summary = json.loads(result.stdout)
        folder = the_batch(home)
        lines_of = {r["key"]: r for r in jsonl(folder / "results.jsonl")}
        same = {k: (r["status"], r["output"], r["cost_usd"]) for k, r in lines_of.items()}
        dead = [(d["key"], d["reason"]) for d in jsonl(folder / "dead.jsonl")]
        info = json.loads((folder / "batch.json").read_text())
        seen[workers] = (summary["counts"], same, dead, info["llm_calls"], info["cost_usd"])
    assert seen["1"] == seen["2"]
    assert seen["2"][0] == {
        "ok": 40, "failed": 0, "stopped": 0, "dead": 1, "skipped": 0, "duplicates": 10,
    }  # fmt: skip


def test_an_interrupted_batch_over_workers_is_finished_by_resume(tmp_path: Path) -> None:
    crew = write_crew(tmp_path / "crew", SLOW_CREW)
    items = items_file(tmp_path / "items.jsonl", [{"item": f"x{n}"} for n in range(60)])
    home = tmp_path / "home"
    env = {**os.environ, "MAS_HOME": str(home)}
    cmd = [sys.executable, "-m", "mas_cli", "batch", str(crew), "--inputs", str(items)]
    cmd += ["-c", "4", "-w", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_lines(home, 5)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert b"Traceback" not in err
    folder = the_batch(home)
    first = jsonl(folder / "results.jsonl")
    assert 5 <= len(first) < 60
    assert any(r["status"] == "interrupted" for r in first)  # the workers' runs in flight
    for log in (home / "runs").glob("*/events.jsonl"):
        assert jsonl(log)[-1]["type"] == "run_finished"
    latest = resumed_batch(folder, env, "-c", "8", "-q")
    assert len(latest) == 60
    assert {r["status"] for r in latest.values()} == {"ok"}
    done_first = {r["key"] for r in first if r["status"] == "ok"}
    rerun = [r for r in jsonl(folder / "results.jsonl")[len(first) :] if r["key"] in done_first]
    assert rerun == []  # items done before the stop were not run again


def test_a_worker_that_dies_loses_no_item(tmp_path: Path) -> None:
    crew = write_crew(tmp_path / "crew", SLOW_CREW)
    items = items_file(tmp_path / "items.jsonl", [{"item": f"x{n}"} for n in range(40)])
    home = tmp_path / "home"
    env = {**os.environ, "MAS_HOME": str(home)}
    cmd = [sys.executable, "-m", "mas_cli", "batch", str(crew), "--inputs", str(items)]
    proc = subprocess.Popen([*cmd, "-c", "4", "-w", "2", "-q"], env=env, stderr=subprocess.PIPE)
    _wait_for_lines(home, 3)
    os.kill(_workers_of(proc.pid)[0], signal.SIGKILL)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err.decode()  # the worker's items failed; the rest ran
    folder = the_batch(home)
    results = jsonl(folder / "results.jsonl")
    assert len({r["key"] for r in results}) == len(results) == 40  # each item recorded once
    lost = [r for r in results if r["status"] == "failed"]
    assert 1 <= len(lost) <= 4  # what that worker had in flight
    assert all("worker process ended" in r["error"] for r in lost)
    assert len(jsonl(folder / "dead.jsonl")) == len(lost)
    latest = resumed_batch(folder, env, "-q")
    assert {r["status"] for r in latest.values()} == {"ok"}


def test_the_default_is_one_process_for_a_small_file_and_a_worker_a_core_for_a_large_one(
    tmp_path: Path,
) -> None:
    small = items_file(tmp_path / "small.jsonl", [{"item": "x"}] * (AUTO_WORKERS_FROM - 1))
    large = items_file(tmp_path / "large.jsonl", [{"item": "x"}] * AUTO_WORKERS_FROM)
    assert auto_workers(small) == 1
    assert auto_workers(large) == max(1, min(len(os.sched_getaffinity(0)), 4))
    assert auto_workers(tmp_path / "missing.jsonl") == 1


def test_workers_are_for_a_local_batch(tmp_path: Path, clean_env: Path) -> None:
    crew = write_crew(tmp_path / "crew", OFFLINE)
    items = items_file(tmp_path / "items.jsonl", [{"item": "x"}])
    result = mas("batch", str(crew), "--inputs", str(items), "-w", "2", "--engine", "temporal")
    assert result.exit_code == 2
    assert "--workers is for a local batch" in result.stderr


def _wait_for_lines(home: Path, count: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = list((home / "batches").glob("*/results.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"the batch never wrote {count} results")


def _workers_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"mas_cli.batch.worker" in argv:
            found.append(int(entry.name))
    assert found, "no worker process found"
    return found


def test_memory_is_flat_in_the_number_of_items_over_workers(tmp_path: Path) -> None:
    """The batch holds only the items in flight, spread over its workers, however many the
    file has (each worker holds its own runs only)."""
    import asyncio

    from crewkit import ECHO_CREW

    from mas_cli.batch.folder import BatchFolder
    from mas_cli.batch.runner import BatchOptions
    from mas_cli.batch.workers import run_with_workers
    from mas_cli.spec.loader import load_crew

    crew = load_crew(write_crew(tmp_path / "crew", ECHO_CREW))
    peaks = []
    for count in (40, 400):
        items = items_file(tmp_path / f"{count}.jsonl", [{"item": f"x{n}"} for n in range(count)])
        home = tmp_path / f"home{count}"
        options = BatchOptions(home, items, concurrency=4, offline=True, workers=2)
        with BatchFolder(home / "batches" / "b-test") as folder:
            result = asyncio.run(run_with_workers(crew, options, folder))
        assert result.tally.ok == count
        peaks.append((result.tally.peak_in_flight, result.tally.peak_held))
    assert peaks == [(4, 5), (4, 5)]


def test_a_batch_whose_workers_all_die_stops_saying_so_and_resume_finishes_it(
    tmp_path: Path,
) -> None:
    crew = write_crew(tmp_path / "crew", SLOW_CREW)
    items = items_file(tmp_path / "items.jsonl", [{"item": f"x{n}"} for n in range(40)])
    home = tmp_path / "home"
    env = {**os.environ, "MAS_HOME": str(home)}
    cmd = [sys.executable, "-m", "mas_cli", "batch", str(crew), "--inputs", str(items)]
    cmd += ["-c", "4", "-w", "2", "--breaker", "0", "-q"]  # the breaker would stop it first
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE)
    _wait_for_lines(home, 3)
    for pid in _workers_of(proc.pid):
        os.kill(pid, signal.SIGKILL)
    _out, err = proc.communicate(timeout=120)
    said = " ".join(err.decode().split())  # as the terminal wrapped it
    assert proc.returncode == 3, said
    assert "stopped: every batch worker process ended (see worker-N.err" in said
    assert "Traceback" not in said
    folder = the_batch(home)
    assert json.loads((folder / "batch.json").read_text())["status"] == "stopped"
    assert len(jsonl(folder / "results.jsonl")) < 40
    latest = resumed_batch(folder, env, "-q")
    assert len(latest) == 40
    assert {r["status"] for r in latest.values()} == {"ok"}


def test_a_worker_sets_the_collector_before_the_engine_loads() -> None:
    """`python -m mas_cli.batch.worker` sets the collector's thresholds (collector.py) before
    the engine, the SDKs and the crew load, and freezes what is alive once its work is done,
    as `mas` itself does: its start-up makes 7% fewer instructions."""
    code = """
import gc, sys
seen = []
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "mas_cli.engine.run":
            seen.append(gc.get_threshold())
sys.meta_path.insert(0, Watch())
from mas_cli.batch import worker
assert "mas_cli.engine.run" not in sys.modules  # the launcher alone is light
try:
    worker.main(["not-a-socket"])
except ValueError:
    pass
assert seen == [(10_000, 50, 50)], seen
import mas_cli.batch.serving as serving
serving.run = lambda argv: 7
assert worker.main(["5"]) == 7
assert gc.get_freeze_count() > 0
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
