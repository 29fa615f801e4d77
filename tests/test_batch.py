"""`mas batch` and `mas resume BATCH_ID`: real crew files, the official SDK against the local
wire-compatible server, the real disk; signals through a real process."""

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
from crewkit import ECHO_CREW, write_crew
from fakeserver import FakeServer, Greedy, Reply, error, openai_text
from typer.testing import CliRunner

from mas_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def wire_crew(folder: Path, server: FakeServer, limits: str = "") -> Path:
    """A one-task crew whose agent calls the fake server over the OpenAI wire."""
    # socketserver listens with a backlog of 5: fifty clients connecting at once overflow it
    # and the kernel drops connections (a failed call, with max_retries 0). Listen wider.
    server._http.socket.listen(128)
    return write_crew(
        folder,
        f"""
        name: wired
        inputs:
          item: {{description: The item}}
        models:
          m:
            provider: openai
            model: gpt-4o-mini
            base_url: {server.url}/v1
            api_key_env: MAS_TEST_KEY
            max_tokens: 200
        prices:
          m: {{input: 1.0, output: 4.0}}
        limits:
          max_retries: 0
          {limits}
        agents:
          a: {{role: Answerer, model: m}}
        tasks:
          - {{id: answer, agent: a, prompt: "Answer {{item}}."}}
        """,
    )


def mas(*args: str) -> Any:
    return runner.invoke(app, list(args))


def items_file(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def the_batch(home: Path) -> Path:
    (folder,) = (home / "batches").iterdir()
    return folder


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def resumed_batch(folder: Path, env: dict[str, str], *options: str) -> dict[str, dict[str, Any]]:
    """`mas resume BATCH` in a process of its own, which must end ok; each item's last result."""
    argv = [sys.executable, "-m", "mas_cli", "resume", folder.name, *options]
    done = subprocess.run(argv, env=env, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return {r["key"]: r for r in jsonl(folder / "results.jsonl")}


def run_events(home: Path) -> list[dict[str, Any]]:
    found = []
    for log in (home / "runs").glob("*/events.jsonl"):
        found += jsonl(log)
    return found


def test_each_item_is_a_run_tagged_with_its_batch_and_key(tmp_path: Path, clean_env: Path) -> None:
    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    items = items_file(
        tmp_path / "items.jsonl", [{"id": f"i{n}", "item": f"x{n}"} for n in range(7)]
    )
    result = mas("batch", str(crew), "--inputs", str(items), "--key", "id", "-c", "3", "-q")
    assert result.exit_code == 0, result.stderr
    folder = the_batch(clean_env)
    info = json.loads((folder / "batch.json").read_text())
    assert info["status"] == "finished"
    assert info["counts"]["ok"] == 7
    results = jsonl(folder / "results.jsonl")
    assert sorted(r["key"] for r in results) == [f"i{n}" for n in range(7)]
    assert {r["status"] for r in results} == {"ok"}
    assert all(
        set(r) == {"key", "run_id", "status", "output", "cost_usd", "error"} for r in results
    )
    started = [e for e in run_events(clean_env) if e["type"] == "run_started"]
    assert len(started) == 7
    assert {e["batch_id"] for e in started} == {folder.name}
    by_run = {r["run_id"]: r["key"] for r in results}
    assert all(by_run[e["run_id"]] == e["item_key"] for e in started)
    assert all(e["inputs"] == {"item": f"x{by_run[e['run_id']][1:]}"} for e in started)
    assert (folder / "dead.jsonl").read_text() == ""


def test_duplicates_are_processed_once(tmp_path: Path, clean_env: Path) -> None:
    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    rows = [{"item": "a"}, {"item": "b"}, {"item": "a"}, {"item": "b"}, {"item": "a"}]
    items = items_file(tmp_path / "items.jsonl", rows)
    result = mas("batch", str(crew), "--inputs", str(items), "-c", "5", "-q", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["counts"]["duplicates"] == 3
    results = jsonl(the_batch(clean_env) / "results.jsonl")
    assert len(results) == 2
    assert len({r["key"] for r in results}) == 2
    assert len(list((clean_env / "runs").iterdir())) == 2
    # Keyed by a field: the same key is the same item, whatever else the line says.
    items = items_file(tmp_path / "keyed.jsonl", [{"k": 1, "item": "a"}, {"k": 1, "item": "b"}])
    result = mas(
        "batch",
        str(crew),
        "--inputs",
        str(items),
        "--key",
        "k",
        "-q",
        "--home",
        str(tmp_path / "h2"),
    )
    assert result.exit_code == 0, result.stderr
    assert len(jsonl(the_batch(tmp_path / "h2") / "results.jsonl")) == 1


def test_a_number_key_and_the_same_key_as_text_are_not_one_item(
    tmp_path: Path, clean_env: Path
) -> None:
    # `--key id` made 1 and "1" both the key "1": the second item was passed over as a repeat
    # (locally, and by the Temporal feed, which reads items the same way). The line of the
    # other kind is a dead letter naming both lines; the first kind decides.
    from mas_cli.batch.items import BadLine, read_items
    from mas_cli.spec.loader import load_crew

    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    rows = [{"id": 1, "item": "a"}, {"id": 2, "item": "b"}, {"id": "1", "item": "c"}]
    items = items_file(tmp_path / "items.jsonl", rows)
    read = list(read_items(items, load_crew(crew).spec, "id"))
    assert [type(i).__name__ for i in read] == ["Item", "Item", "BadLine"]
    assert isinstance(read[2], BadLine)
    assert read[2].reason == (
        f'{items}:3: id "1" is a string, but on line 1 it is a number (1): 1 and "1" would be '
        "one key (give every id as a string, or every one as a number)"
    )
    result = mas("batch", str(crew), "--inputs", str(items), "--key", "id", "-q", "--json")
    assert result.exit_code == 1, result.stderr
    assert json.loads(result.stdout)["counts"]["duplicates"] == 0
    [dead] = jsonl(the_batch(clean_env) / "dead.jsonl")
    assert dead["reason"].startswith(f"{items}:3: id ")
    # Keys of one kind, numbers or strings, are read as before.
    for ids in ([1, 2.5, 3], ["1", "2", "x"]):
        same = items_file(tmp_path / "same.jsonl", [{"id": i, "item": "a"} for i in ids])
        assert all(not isinstance(i, BadLine) for i in read_items(same, load_crew(crew).spec, "id"))


BAD_LINES = [
    "not json at all",
    "[1, 2, 3]",
    '{"item": "fine"}',
    '{"itme": "typo"}',
    "{}",
    '{"item": ' + "[" * 100_000 + "]" * 100_000 + "}",
    '{"item": "\\ud800 lone surrogate"}',
    "\x00\x01\x1b[2J",
]


def test_bad_lines_go_to_dead_letters_with_file_and_line_and_never_stop_the_batch(
    tmp_path: Path, clean_env: Path
) -> None:
    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    items = tmp_path / "items.jsonl"
    items.write_bytes("\n".join(BAD_LINES).encode() + b"\n\xff\xfe not utf-8\n")
    result = mas("batch", str(crew), "--inputs", str(items), "-q")
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "internal error" not in result.stderr
    folder = the_batch(clean_env)
    dead = jsonl(folder / "dead.jsonl")
    lines = {int(d["reason"].split(":")[1]) for d in dead}
    assert lines == {1, 2, 4, 5, 6, 8, 9}
    assert all(d["reason"].startswith(f"{items}:") for d in dead)
    assert "itme" in next(d["reason"] for d in dead if ":4:" in d["reason"])
    assert "did you mean 'item'" in next(d["reason"] for d in dead if ":4:" in d["reason"])
    assert "missing required input" in next(d["reason"] for d in dead if ":5:" in d["reason"])
    # in JSON's words, not Python's (`found list`)
    assert next(d["reason"] for d in dead if ":2:" in d["reason"]).endswith("found an array")
    ok = jsonl(folder / "results.jsonl")
    assert len(ok) == 2  # "fine" and the lone surrogate, read as U+FFFD
    assert {r["status"] for r in ok} == {"ok"}


def test_csv_items_and_a_row_with_the_wrong_columns(tmp_path: Path, clean_env: Path) -> None:
    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    items = tmp_path / "items.csv"
    items.write_text('item\n"a, with a comma"\nb,extra\nc\n', encoding="utf-8")
    result = mas("batch", str(crew), "--inputs", str(items), "-q")
    assert result.exit_code == 1, result.stderr
    folder = the_batch(clean_env)
    (dead,) = jsonl(folder / "dead.jsonl")
    assert dead["reason"] == f"{items}:3: 2 columns where the header has 1"
    assert len(jsonl(folder / "results.jsonl")) == 2


def test_a_csv_header_with_an_unnamed_or_a_repeated_column(tmp_path: Path, clean_env: Path) -> None:
    # A trailing comma made every row a dead letter ("not an input of crew echo: "); a name
    # given twice kept the last column's value and dropped the first's, silently.
    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    items = tmp_path / "items.csv"
    items.write_text("item,\na,\nb,\nc,stray\n", encoding="utf-8")
    result = mas("batch", str(crew), "--inputs", str(items), "-q")
    assert result.exit_code == 1, result.stderr
    folder = the_batch(clean_env)
    assert [r["status"] for r in jsonl(folder / "results.jsonl")] == ["ok", "ok"]
    (dead,) = jsonl(folder / "dead.jsonl")
    assert dead["reason"] == f"{items}:4: a value in column 2, which the header names no input"
    items.write_text("item,item\na,b\n", encoding="utf-8")
    result = mas("batch", str(crew), "--inputs", str(items), "-q")
    assert result.exit_code == 2
    assert "the header names 'item' twice (columns 1 and 2)" in result.stderr


def test_a_csv_quote_never_closed_is_a_dead_letter_not_one_last_item(
    tmp_path: Path, clean_env: Path
) -> None:
    # Read leniently, the open quote made lines 4-6 one item: "c" and "d" silently never ran.
    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    items = tmp_path / "items.csv"
    items.write_text('item\n"a\nwith a newline"\n"b\nc\nd\n', encoding="utf-8")
    result = mas("batch", str(crew), "--inputs", str(items), "-q")
    assert result.exit_code == 1, result.stderr
    folder = the_batch(clean_env)
    (dead,) = jsonl(folder / "dead.jsonl")
    assert dead["reason"].startswith(f"{items}:4: a quote opened on line 4 is never closed")
    assert "lines 4-6" in dead["reason"]
    assert [r["status"] for r in jsonl(folder / "results.jsonl")] == ["ok"]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("items.csv", b'\xef\xbb\xbfitem\r\na\r\n"b, c"\r\n'),  # Excel's "CSV UTF-8"
        ("items.jsonl", b'\xef\xbb\xbf{"item": "a"}\n{"item": "b, c"}\n'),
    ],
)
def test_an_items_file_with_a_byte_order_mark_reads_every_item(
    tmp_path: Path, clean_env: Path, name: str, content: bytes
) -> None:
    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    items = tmp_path / name
    items.write_bytes(content)
    result = mas("batch", str(crew), "--inputs", str(items), "-q")
    assert result.exit_code == 0, result.stderr
    folder = the_batch(clean_env)
    assert jsonl(folder / "dead.jsonl") == []
    assert len(jsonl(folder / "results.jsonl")) == 2


@pytest.mark.parametrize(
    ("name", "content", "expect"),
    [
        ("items.txt", "x\n", "must be .jsonl"),
        ("missing.jsonl", None, "no such file"),
        ("empty.csv", "", "header row"),
    ],
)
def test_an_unusable_items_file_is_a_usage_error(
    tmp_path: Path, name: str, content: str | None, expect: str
) -> None:
    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    items = tmp_path / name
    if content is not None:
        items.write_text(content, encoding="utf-8")
    result = mas("batch", str(crew), "--inputs", str(items), "-q")
    assert result.exit_code == 2, result.stderr
    assert expect in result.stderr
    assert "Traceback" not in result.stderr


def test_an_item_running_before_the_failures_began_does_not_hold_the_breaker_off(
    tmp_path: Path, clean_env: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first item's call is answered well after a second, while later items fail every
    0.3 s (the key expired while it ran). Its success is no evidence that the cause went away:
    the streak goes on and the breaker trips at five failures. Before, it reset the streak,
    and five more items failed after it (seven or eight in all)."""
    import dataclasses

    monkeypatch.setenv("MAS_TEST_KEY", "sk-test-123")

    def answer(body: Any) -> Reply:
        if "x0." in json.dumps(body):  # the first item
            return dataclasses.replace(openai_text("fine"), delay_s=1.0)
        refused = error(401, "Incorrect API key provided: sk-test-123", code="invalid_api_key")
        return dataclasses.replace(refused, delay_s=0.3)

    server.openai.handler = answer
    crew = wire_crew(tmp_path / "crew", server)
    items = items_file(tmp_path / "items.jsonl", [{"item": f"x{n}."} for n in range(40)])
    result = mas("batch", str(crew), "--inputs", str(items), "-c", "2", "--breaker", "5", "-q")
    assert result.exit_code == 3, result.stderr
    statuses = [r["status"] for r in jsonl(the_batch(clean_env) / "results.jsonl")]
    assert "failed" in statuses[: statuses.index("ok")]  # it ended ok after failures began
    assert 5 <= statuses.count("failed") <= 5 + 1  # the streak's five, and the other in flight


def test_a_batch_whose_key_expired_stops_on_the_breaker(
    tmp_path: Path, clean_env: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAS_TEST_KEY", "sk-test-123")
    answered = []

    def answer(body: Any) -> Reply:
        answered.append(body)
        if len(answered) <= 3:
            return openai_text("fine")
        return error(401, "Incorrect API key provided: sk-test-123", code="invalid_api_key")

    server.openai.handler = answer
    crew = wire_crew(tmp_path / "crew", server)
    items = items_file(tmp_path / "items.jsonl", [{"item": f"x{n}"} for n in range(200)])
    result = mas("batch", str(crew), "--inputs", str(items), "-c", "2", "--breaker", "5", "-q")
    assert result.exit_code == 3, result.stderr
    assert "breaker" in result.stderr
    assert "HTTP 401" in result.stderr
    assert "mas resume b-" in result.stderr
    assert "sk-test-123" not in result.stderr
    folder = the_batch(clean_env)
    for name in ("batch.json", "results.jsonl", "dead.jsonl"):
        assert "sk-test-123" not in (folder / name).read_text(), name
    info = json.loads((folder / "batch.json").read_text())
    assert info["status"] == "stopped"
    results = jsonl(folder / "results.jsonl")
    failed = [r for r in results if r["status"] == "failed"]
    assert 5 <= len(failed) <= 5 + 2  # the breaker's five, and at most the items in flight
    assert len(results) < 20
    assert len(answered) < 20


def test_a_batch_budget_is_never_passed_with_fifty_items_in_flight(
    tmp_path: Path, clean_env: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAS_TEST_KEY", "sk-test")
    greedy = Greedy()  # every call bills the largest output allowed and all the input it can
    greedy.install(server)
    crew = wire_crew(tmp_path / "crew", server)
    items = items_file(tmp_path / "items.jsonl", [{"item": f"x{n}"} for n in range(300)])
    budget = "0.02"
    result = mas(
        "batch", str(crew), "--inputs", str(items), "-c", "50", "--max-cost-usd", budget, "-q"
    )
    assert result.exit_code == 3, result.stderr
    assert "max_cost_usd 0.02 for the batch" in result.stderr
    calls = [e for e in run_events(clean_env) if e["type"] == "llm_call"]
    spent = sum(Decimal(str(e["cost_usd"])) for e in calls)
    # As the server billed it: input at $1/M and output at $4/M.
    billed = sum(Decimal(i) * 1 / 10**6 + Decimal(o) * 4 / 10**6 for i, o in greedy.billed)
    assert spent == billed
    assert 0 < spent <= Decimal(budget)
    assert len(greedy.billed) > 10  # it ran calls at once until the budget was nearly spent
    info = json.loads((the_batch(clean_env) / "batch.json").read_text())
    assert Decimal(str(info["cost_usd"])) == spent
    assert info["counts"]["ok"] + info["counts"]["stopped"] < 300


def test_a_batch_llm_call_budget_counts_calls_in_flight(
    tmp_path: Path, clean_env: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAS_TEST_KEY", "sk-test")
    server.openai.handler = lambda _body: Reply(json=openai_text("ok").json, delay_s=0.05)
    crew = wire_crew(tmp_path / "crew", server)
    items = items_file(tmp_path / "items.jsonl", [{"item": f"x{n}"} for n in range(100)])
    result = mas(
        "batch", str(crew), "--inputs", str(items), "-c", "50", "--max-llm-calls", "17", "-q"
    )
    assert result.exit_code == 3, result.stderr
    assert len(server.requests("/v1/chat/completions")) == 17
    folder = the_batch(clean_env)
    results = jsonl(folder / "results.jsonl")
    assert sum(r["status"] == "ok" for r in results) == 17
    assert sum(r["status"] == "stopped" for r in results) == 50 - 17  # refused, in flight
    assert len(results) == 50  # no item started after the budget refused a call
    assert (folder / "dead.jsonl").read_text() == ""  # stopped by the batch: not dead letters


def test_a_dead_lettered_item_fed_back_runs_under_its_key(
    tmp_path: Path, clean_env: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAS_TEST_KEY", "sk-test")
    broken = {"on": True}

    def answer(body: Any) -> Reply:
        if broken["on"] and "poison" in json.dumps(body):
            return error(400, "this request cannot be served")
        return openai_text("done")

    server.openai.handler = answer
    crew = wire_crew(tmp_path / "crew", server)
    rows = [{"id": "a", "item": "fine"}, {"id": "b", "item": "poison"}, {"id": "c", "item": "ok"}]
    items = items_file(tmp_path / "items.jsonl", rows)
    result = mas("batch", str(crew), "--inputs", str(items), "--key", "id", "-q")
    assert result.exit_code == 1, result.stderr
    first = the_batch(clean_env)
    (dead,) = jsonl(first / "dead.jsonl")
    assert dead["key"] == "b"
    assert dead["inputs"] == {"item": "poison"}
    assert "400" in dead["reason"]
    broken["on"] = False  # the cause is fixed; feed the dead letters back as they are
    home2 = tmp_path / "again"
    result = mas(
        "batch", str(crew), "--inputs", str(first / "dead.jsonl"), "-q", "--home", str(home2)
    )
    assert result.exit_code == 0, result.stderr
    (again,) = jsonl(the_batch(home2) / "results.jsonl")
    assert again["key"] == "b"
    assert again["status"] == "ok"
    assert again["output"] == "done"


def test_memory_is_flat_in_the_number_of_items(tmp_path: Path) -> None:
    """Items are read as slots free up: the most held at once is the concurrency, plus the one
    read ahead, whether the file has 40 items or 400."""
    import asyncio

    from mas_cli.batch.folder import BatchFolder
    from mas_cli.batch.runner import BatchOptions, run_batch
    from mas_cli.spec.loader import load_crew

    crew = load_crew(write_crew(tmp_path / "crew", ECHO_CREW))
    peaks = []
    for count in (40, 400):
        items = items_file(tmp_path / f"{count}.jsonl", [{"item": f"x{n}"} for n in range(count)])
        options = BatchOptions(tmp_path / f"home{count}", items, concurrency=4, offline=True)
        with BatchFolder(tmp_path / f"home{count}" / "batches" / "b-test") as folder:
            result = asyncio.run(run_batch(crew, options, folder))
        assert result.tally.ok == count
        peaks.append((result.tally.peak_in_flight, result.tally.peak_held))
    assert peaks == [(4, 5), (4, 5)]


def test_resume_skips_done_items_and_runs_the_rest(
    tmp_path: Path, clean_env: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAS_TEST_KEY", "sk-test")
    state = {"key_ok": True, "calls": 0}

    def answer(_body: Any) -> Reply:
        state["calls"] += 1
        if state["key_ok"] and state["calls"] <= 4:
            return openai_text("done")
        if state["key_ok"] and state["calls"] > 4:
            state["key_ok"] = False
        return openai_text("done") if state["key_ok"] else error(401, "expired key")

    server.openai.handler = answer
    crew = wire_crew(tmp_path / "crew", server)
    items = items_file(tmp_path / "items.jsonl", [{"item": f"x{n}"} for n in range(30)])
    result = mas("batch", str(crew), "--inputs", str(items), "-c", "1", "--breaker", "3", "-q")
    assert result.exit_code == 3, result.stderr
    folder = the_batch(clean_env)
    unfinished = {
        r["key"]: r["run_id"] for r in jsonl(folder / "results.jsonl") if r["status"] != "ok"
    }
    import mas_cli.batch.runner as batch_runner

    handed: dict[str, str | None] = {}
    real = batch_runner.rerun_item

    async def spy(crew: Any, options: Any, earlier: str | None) -> Any:
        handed[options.shared.item_key] = earlier
        return await real(crew, options, earlier)

    monkeypatch.setattr(batch_runner, "rerun_item", spy)
    state["key_ok"], state["calls"] = True, -10_000  # a new key
    result = mas("resume", folder.name, "-q", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["counts"]["skipped"] == 4
    # Each item left unfinished is handed its last run (where the per-run resume plugs in).
    assert {k: v for k, v in handed.items() if v is not None} == unfinished
    assert len(handed) == 26
    latest = {r["key"]: r for r in jsonl(folder / "results.jsonl")}
    assert len(latest) == 30
    assert {r["status"] for r in latest.values()} == {"ok"}
    oks = [r for r in jsonl(folder / "results.jsonl") if r["status"] == "ok"]
    assert len(oks) == 30  # no item ran ok twice
    info = json.loads((folder / "batch.json").read_text())
    assert info["status"] == "finished"
    # ... and resumed as `mas resume RUN_ID` resumes a run: the new run names the one it continues
    resumed = {
        e["item_key"]: e["resumed_from"]
        for e in run_events(clean_env)
        if e["type"] == "run_started" and e.get("resumed_from")
    }
    assert resumed == unfinished


def test_resume_of_something_that_is_no_batch_nor_run_says_so(tmp_path: Path) -> None:
    # `mas resume` takes a run id or a batch id: one that names neither is a usage error
    for ref in ("20261206T000000000-abcdef", "b-20261206T000000000-abcdef"):
        result = mas("resume", ref)
        assert result.exit_code == 2
        assert "no runs under" in result.stderr


SLOW_CREW = """
    name: slow
    inputs:
      item: {description: The item}
    models:
      m: offline
    agents:
      a:
        role: Slow
        model: m
        script:
          repeat: true
          turns: [{text: "done", delay_s: 0.2}]
    tasks:
      - {id: answer, agent: a, prompt: "Answer {item}."}
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_a_stopped_batch_leaves_a_valid_folder_that_resume_finishes(
    tmp_path: Path, sig: signal.Signals
) -> None:
    crew = write_crew(tmp_path / "crew", SLOW_CREW)
    items = items_file(tmp_path / "items.jsonl", [{"item": f"x{n}"} for n in range(60)])
    home = tmp_path / "home"
    env = {**os.environ, "MAS_HOME": str(home)}
    cmd = [sys.executable, "-m", "mas_cli", "batch", str(crew), "--inputs", str(items), "-c", "3"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    results = home / "batches"
    while time.monotonic() < deadline:
        found = list(results.glob("*/results.jsonl")) if results.is_dir() else []
        if found and len(found[0].read_text().splitlines()) >= 5:
            break
        time.sleep(0.05)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == (130 if sig == signal.SIGINT else -9), err.decode()
    assert b"Traceback" not in err
    folder = the_batch(home)
    listed = runner.invoke(app, ["runs", "--batches", "--json", "--home", str(home)])
    (row,) = json.loads(listed.stdout)
    assert row["status"] == ("interrupted" if sig == signal.SIGINT else "killed")
    first = jsonl(folder / "results.jsonl")  # every line whole
    assert 5 <= len(first) < 60
    if sig == signal.SIGINT:
        for log in (home / "runs").glob("*/events.jsonl"):
            assert jsonl(log)[-1]["type"] == "run_finished"
    latest = resumed_batch(folder, env, "-c", "8", "-q")
    assert len(latest) == 60
    assert {r["status"] for r in latest.values()} == {"ok"}
    done_first = {r["key"] for r in first if r["status"] == "ok"}
    rerun = [r for r in jsonl(folder / "results.jsonl")[len(first) :] if r["key"] in done_first]
    assert rerun == []  # items done before the stop were not run again


def test_a_batch_still_running_is_not_resumed_twice(tmp_path: Path, clean_env: Path) -> None:
    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    items = items_file(tmp_path / "items.jsonl", [{"item": "a"}])
    assert mas("batch", str(crew), "--inputs", str(items), "-q").exit_code == 0
    folder = the_batch(clean_env)
    info = json.loads((folder / "batch.json").read_text())
    info.update(status="running", pid=os.getpid())  # this live process holds it
    (folder / "batch.json").write_text(json.dumps(info), encoding="utf-8")
    (folder / "batch.lock").unlink()  # a batch from before locks: its pid alone tells
    result = mas("resume", folder.name)
    assert result.exit_code == 2
    assert "still running" in result.stderr


def _stopped_batch(tmp_path: Path, home: Path) -> Path:
    """The folder of a batch of two items that its breaker stopped after the first call."""
    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    items = items_file(tmp_path / "items.jsonl", [{"item": "a"}, {"item": "b"}])
    argv = ["batch", str(crew), "--inputs", str(items), "--max-llm-calls", "1", "-q"]
    assert mas(*argv).exit_code == 3
    return the_batch(home)


def test_a_killed_batch_whose_pid_was_taken_again_is_killed_not_running(
    tmp_path: Path, clean_env: Path
) -> None:
    # After a crash of the machine (or a SIGKILL and enough new processes) the pid batch.json
    # names belongs to another process: the batch read `running` for ever and could not be
    # resumed. Nobody holds its lock: it was killed.
    folder = _stopped_batch(tmp_path, clean_env)
    info = json.loads((folder / "batch.json").read_text())
    info.update(status="running", pid=os.getpid())  # a live process, not the batch's
    (folder / "batch.json").write_text(json.dumps(info), encoding="utf-8")
    listed = mas("runs", "--batches", "--json")
    assert [b["status"] for b in json.loads(listed.stdout)] == ["killed"]
    result = mas("resume", folder.name, "--max-llm-calls", "10")
    assert result.exit_code == 0, result.stderr


def test_a_batch_another_process_runs_is_not_resumed_by_a_second(
    tmp_path: Path, clean_env: Path
) -> None:
    # Two `mas resume BATCH` started together both read batch.json before either wrote
    # `running`: both ran every unfinished item, each counting the budget on its own. The
    # process running the batch is played by holding the lock it holds, its pid written in it.
    import fcntl

    folder = _stopped_batch(tmp_path, clean_env)
    results = (folder / "results.jsonl").read_bytes()
    fd = os.open(folder / "batch.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, b"4242\n")
        result = mas("resume", folder.name, "--max-llm-calls", "10")
    finally:
        os.close(fd)
    assert result.exit_code == 2, result.stderr
    assert f"batch {folder.name} is still running (process 4242)" in result.stderr
    assert "kill -INT 4242" in result.stderr
    assert (folder / "results.jsonl").read_bytes() == results  # nothing ran
    result = mas("resume", folder.name, "--max-llm-calls", "10")
    assert result.exit_code == 0, result.stderr  # the lock let go: the batch finishes
    assert {r["status"] for r in jsonl(folder / "results.jsonl")[-1:]} == {"ok"}


def test_a_key_that_is_not_set_stops_the_batch_before_it_begins(
    tmp_path: Path, clean_env: Path, server: FakeServer
) -> None:
    crew = wire_crew(tmp_path / "crew", server)
    items = items_file(tmp_path / "items.jsonl", [{"item": "x"}])
    result = mas("batch", str(crew), "--inputs", str(items), "-q")
    assert result.exit_code == 2, result.stderr
    assert "MAS_TEST_KEY" in result.stderr
    assert not list((clean_env / "batches").iterdir())
    assert server.requests("/v1/chat/completions") == []


def test_mas_run_with_an_items_file_points_at_mas_batch(tmp_path: Path) -> None:
    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    items = items_file(tmp_path / "items.jsonl", [{"item": "a"}, {"item": "b"}])
    result = mas("run", str(crew), "--inputs", str(items), "--offline")
    assert result.exit_code == 2
    assert f"mas batch CREW.yaml --inputs {items}" in result.stderr


def test_a_resumed_batch_budget_counts_what_earlier_passes_spent(
    tmp_path: Path, clean_env: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAS_TEST_KEY", "sk-test")
    Greedy().install(server)
    crew = wire_crew(tmp_path / "crew", server)
    items = items_file(tmp_path / "items.jsonl", [{"item": f"x{n}"} for n in range(40)])
    args = ("--inputs", str(items), "-c", "8", "-q")
    assert mas("batch", str(crew), *args, "--max-cost-usd", "0.01").exit_code == 3
    folder = the_batch(clean_env)
    again = mas("resume", folder.name, "-q")  # the same budget: nothing more may be spent
    assert again.exit_code == 3, again.stderr
    calls = [e for e in run_events(clean_env) if e["type"] == "llm_call"]
    assert sum(Decimal(str(e["cost_usd"])) for e in calls) <= Decimal("0.01")
    done = mas("resume", folder.name, "-q", "--max-cost-usd", "5")  # a raised budget
    assert done.exit_code == 0, done.stderr
    latest = {r["key"]: r for r in jsonl(folder / "results.jsonl")}
    assert len(latest) == 40
    assert {r["status"] for r in latest.values()} == {"ok"}


def test_a_tampered_batch_folder_is_a_clear_error_or_read_around(
    tmp_path: Path, clean_env: Path
) -> None:
    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    items = items_file(tmp_path / "items.jsonl", [{"item": f"x{n}"} for n in range(4)])
    assert mas("batch", str(crew), "--inputs", str(items), "-q").exit_code == 0
    folder = the_batch(clean_env)
    with (folder / "results.jsonl").open("a", encoding="utf-8") as out:
        out.write('garbage\n{"key": 7}\n[1]\n{"key": "zz", "status": "ok", "cost_usd": "1e308"}\n')
        out.write('{"key": "half", "status": "o')  # a line cut by a kill
    result = mas("resume", folder.name, "-q", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["counts"]["skipped"] == 4
    info = json.loads((folder / "batch.json").read_text())
    for bad in ("x", -1, 1e400, True):
        info["options"]["concurrency"] = bad
        (folder / "batch.json").write_text(json.dumps(info), encoding="utf-8")
        result = mas("resume", folder.name, "-q")
        assert result.exit_code == 2, (bad, result.stderr)
        assert "options.concurrency" in result.stderr
        assert "Traceback" not in result.stderr
    (folder / "batch.json").write_text("[]", encoding="utf-8")
    result = mas("resume", folder.name, "-q")
    assert result.exit_code == 2
    assert "expected a JSON object" in result.stderr


def test_progress_without_a_terminal_is_plain_lines_on_stderr(
    tmp_path: Path, clean_env: Path
) -> None:
    crew = write_crew(tmp_path / "crew", ECHO_CREW)
    items = items_file(tmp_path / "items.jsonl", [{"item": f"x{n}"} for n in range(3)])
    result = mas("batch", str(crew), "--inputs", str(items))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("done ")  # the first item's line: no bar, no escape codes
    assert "\x1b" not in result.stderr
    final = next(line for line in lines if line.startswith("done 3 "))
    assert "failed 0 · stopped 0 · $" in final
    assert "/min" in final
    assert lines[-2].startswith(f"batch {the_batch(clean_env).name} finished")
