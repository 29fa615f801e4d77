"""`mas cache stats | clear | explain` through the CLI runner."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from toolcrew import TOOLS_PY, run, write_crew
from typer.testing import CliRunner

from mas_cli.cli import app

runner = CliRunner()
SCRIPT = [
    {"tool_calls": [{"name": "lookup", "arguments": {"query": "refunds"}}]},
    {"tool_calls": [{"name": "noisy", "arguments": {}}]},
    {"text": "done"},
]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def crew(tmp_path: Path) -> Path:
    return write_crew(tmp_path / "crew", script=SCRIPT)


def mas(*argv: str) -> Any:
    return runner.invoke(app, list(argv))


def explain(crew: Path, home: Path, *argv: str) -> Any:
    return mas("cache", "explain", "lookup", "--crew", str(crew), "--home", str(home), *argv)


def test_stats_counts_entries_and_hit_rates_from_the_run_logs(crew: Path, home: Path) -> None:
    run(crew, home)
    run(crew, home)
    result = mas("cache", "stats", "--home", str(home), "--json")
    assert result.exit_code == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["runs_read"] == 2
    assert stats["size_limit"] == 2**30
    lookup, noisy = stats["tools"]
    assert (lookup["tool"], lookup["entries"], lookup["calls"]) == ("lookup", 1, 2)
    assert (lookup["lookups"], lookup["hits"], lookup["hit_rate"]) == (2, 1, 0.5)
    assert lookup["bytes"] > 0
    assert lookup["saved_s"] >= 0
    assert (noisy["tool"], noisy["hits"], noisy["hit_rate"]) == ("noisy", 1, 0.5)


def test_stats_table(crew: Path, home: Path) -> None:
    run(crew, home)
    run(crew, home)
    result = mas("cache", "stats", "--home", str(home))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "tool", "entries", "size", "calls", "lookups", "hits", "hit", "rate", "saved",
    ]  # fmt: skip
    assert lines[1].split()[:2] == ["lookup", "1"]
    assert "50%" in lines[1]
    assert lines[-1].startswith("2 entries · ")
    assert "hit rates from 2 run logs" in lines[-1]


def test_stats_of_one_run_says_one(crew: Path, home: Path) -> None:
    run(crew, home)
    assert mas("cache", "clear", "--tool", "noisy", "--home", str(home)).exit_code == 0
    result = mas("cache", "stats", "--home", str(home))
    assert result.exit_code == 0
    last = result.stdout.splitlines()[-1]
    assert last.startswith("1 entry · ")  # not "1 entries"
    assert last.endswith("hit rates from 1 run log")


def test_stats_of_an_empty_home(home: Path) -> None:
    result = mas("cache", "stats", "--home", str(home))
    assert result.exit_code == 0
    first, last = result.stdout.splitlines()
    assert first.startswith("no tool has asked the cache yet")  # not a header over nothing
    assert last.startswith("0 entries · 0 B on disk of 1.0 GiB")
    assert not home.exists()


def test_stats_skips_and_counts_unreadable_logs(crew: Path, home: Path) -> None:
    run(crew, home)
    broken = home / "runs" / "20990101T000000000-000000"
    broken.mkdir(parents=True)
    (broken / "events.jsonl").write_text("not json\n", encoding="utf-8")
    result = mas("cache", "stats", "--home", str(home), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["runs_read"] == 2


def test_stats_of_a_corrupt_cache_exits_2_and_says_how_to_fix_it(home: Path) -> None:
    (home / "cache").mkdir(parents=True)
    (home / "cache" / "cache.db").write_bytes(b"garbage" * 1000)
    result = mas("cache", "stats", "--home", str(home))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "cannot be used" in result.stderr
    assert "mas cache clear" in result.stderr


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))


@pytest.mark.parametrize("name", ["cache.db", "cache.db-wal"])
@pytest.mark.parametrize(("make", "kind"), [(_fifo, "a FIFO"), (_socket, "a socket or device")])
def test_a_fifo_or_socket_in_the_caches_place_is_named_and_cleared_by_clear(
    crew: Path, home: Path, name: str, make: Any, kind: str
) -> None:
    (home / "cache").mkdir(parents=True)
    make(home / "cache" / name)
    stats = mas("cache", "stats", "--home", str(home))
    assert stats.exit_code == 2
    assert f"cannot be used: {name} is {kind}, not a file mas made (reset it: mas cache clear)" in (
        stats.stderr
    )
    cleared = mas("cache", "clear", "--home", str(home))  # the fix the error names works
    assert cleared.exit_code == 0, cleared.stderr
    assert not (home / "cache" / name).exists()
    run(crew, home)
    assert mas("cache", "stats", "--home", str(home)).exit_code == 0


def test_a_folder_in_the_caches_place_is_named_and_never_deleted(home: Path) -> None:
    (home / "cache" / "cache.db").mkdir(parents=True)
    (home / "cache" / "cache.db" / "keep.txt").write_text("mine", encoding="utf-8")
    stats = mas("cache", "stats", "--home", str(home))
    assert stats.exit_code == 2
    assert "cache.db is a folder, not a file mas made (remove it yourself: rm -r" in stats.stderr
    cleared = mas("cache", "clear", "--home", str(home))
    assert cleared.exit_code == 2
    assert "remove it yourself: rm -r" in cleared.stderr
    assert (home / "cache" / "cache.db" / "keep.txt").read_text(encoding="utf-8") == "mine"


def test_clear_one_tool_then_everything(crew: Path, home: Path) -> None:
    run(crew, home)
    result = mas("cache", "clear", "--tool", "noisy", "--home", str(home))
    assert (result.exit_code, result.stdout) == (0, "removed 1 cache entry of tool noisy\n")
    assert explain(crew, home, "--arg", "query=refunds").stdout.count("hit:") == 1
    result = mas("cache", "clear", "--home", str(home))
    assert (result.exit_code, result.stdout) == (0, "removed 1 cache entry\n")
    assert mas("cache", "clear", "--home", str(home)).stdout == "removed 0 cache entries\n"


def test_explain_a_hit_shows_the_keys_inputs(crew: Path, home: Path) -> None:
    run(crew, home)
    result = explain(crew, home, "--arg", "query=refunds")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("key ")
    assert len(lines[0].split()[1]) == 64
    assert lines[1].split() == ["tool", "lookup", "(deterministic)"]
    assert lines[2].split()[:2] == ["code", "fingerprint"]
    assert lines[3].split() == ["version", "'v1'"]
    assert lines[4].split() == ["max_output_bytes", "1000000"]
    assert lines[5].split() == ["arguments", '{"limit":2,"query":"refunds","ratio":0.5}']
    assert lines[6].startswith("hit: stored ")
    assert "never expires" in lines[6]


def test_explain_a_miss_names_the_argument_that_differs(crew: Path, home: Path) -> None:
    run(crew, home)
    result = explain(crew, home, "--arg", "query=refund", "--json")
    assert result.exit_code == 0
    found = json.loads(result.stdout)
    assert found["hit"] is False
    assert found["tool_entries"] == 1
    assert found["differences"] == [
        {"input": "argument 'query'", "call": '"refund"', "entry": '"refunds"'}
    ]
    text = explain(crew, home, "--arg", "query=refund").stdout
    assert "miss: no entry for this key (lookup has 1 entry)" in text
    assert 'argument \'query\': "refund" here, "refunds" there  ← why this call misses' in text


def test_explain_a_miss_after_a_version_change(crew: Path, home: Path) -> None:
    run(crew, home)
    bumped = crew.read_text(encoding="utf-8").replace("version: v1", "version: v2")
    crew.write_text(bumped, encoding="utf-8")
    found = json.loads(explain(crew, home, "--arg", "query=refunds", "--json").stdout)
    assert found["differences"] == [{"input": "version", "call": "'v2'", "entry": "'v1'"}]


def test_explain_a_miss_after_a_code_change(crew: Path, home: Path) -> None:
    run(crew, home)
    (crew.parent / "tools.py").write_text(TOOLS_PY + "\n# changed\n", encoding="utf-8")
    found = json.loads(explain(crew, home, "--arg", "query=refunds", "--json").stdout)
    assert [d["input"] for d in found["differences"]] == ["code fingerprint"]


def test_explain_picks_the_nearest_of_several_entries(crew: Path, home: Path) -> None:
    test = ("tool-test", "lookup", "--crew", str(crew), "--home", str(home))
    for arguments in (
        ["-a", "query=alpha"],
        ["-a", "query=beta"],
        ["-a", "query=beta", "-a", "limit=3"],
    ):
        assert mas(*test, *arguments).exit_code == 0
    found = json.loads(explain(crew, home, "-a", "query=beta", "-a", "limit=4", "--json").stdout)
    assert found["tool_entries"] == 3
    assert found["nearest"]["inputs"]["arguments"] == '{"limit":3,"query":"beta","ratio":0.5}'
    assert found["differences"] == [{"input": "argument 'limit'", "call": "4", "entry": "3"}]


def test_explain_an_empty_cache(crew: Path, home: Path) -> None:
    result = explain(crew, home, "--arg", "query=refunds")
    assert result.exit_code == 0
    assert "miss: no entry for this key (lookup has 0 entries)" in result.stdout
    assert "nearest" not in result.stdout


def test_explain_a_tool_that_is_never_cached(tmp_path: Path, home: Path) -> None:
    crew = write_crew(tmp_path / "live", {"lookup": {"function": "tools.py:lookup"}})
    result = explain(crew, home, "--arg", "query=q")
    assert result.exit_code == 0
    assert "not cached: lookup is a live tool" in result.stdout


def test_explain_bad_arguments_exits_2(crew: Path, home: Path) -> None:
    result = explain(crew, home, "--arg", "limit=x")
    assert result.exit_code == 2
    assert "error: lookup: query: required" in result.stderr
    assert "failures are never cached" in result.stderr


def test_explain_prefers_the_entry_whose_arguments_read_most_alike(crew: Path, home: Path) -> None:
    test = ("tool-test", "lookup", "--crew", str(crew), "--home", str(home))
    for query in ("refund policy", "reset password"):  # the unlike one is the newest
        assert mas(*test, "-a", f"query={query}").exit_code == 0
    found = json.loads(explain(crew, home, "-a", "query=refund polcy", "--json").stdout)
    assert found["differences"] == [
        {"input": "argument 'query'", "call": '"refund polcy"', "entry": '"refund policy"'}
    ]
