"""A tampered cache.db never runs code and never touches a file outside the cache folder.

The files are made with sqlite3 directly, as an attacker who commits a `.mas` folder would:
diskcache's layout (what mas once wrote, and what the attack targeted), a pickle row whose
unpickling would create a marker file, a row naming a file outside the folder, rows of our own
layout holding pickles and wrong types, and links where the database should be.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from toolcrew import of_type, run, tools_of, write_crew
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.tools.cache import CacheEntry, cache_dir
from mas_cli.tools.cache_db import CacheDb
from mas_cli.tools.cachekey import key_inputs

runner = CliRunner()
SCRIPT = [{"tool_calls": [{"name": "lookup", "arguments": {"query": "q"}}]}, {"text": "done"}]
PICKLE_MODE, BINARY_MODE = 4, 2  # diskcache's Disk modes


class Payload:
    """Unpickling this creates `path`: proof that a value was unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


@pytest.fixture
def crew(tmp_path: Path) -> Path:
    return write_crew(tmp_path / "crew", script=SCRIPT)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "checkout" / ".mas"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "checkout" / "victim"  # ../../victim from the cache folder
    path.parent.mkdir(parents=True)
    path.write_text("precious", encoding="utf-8")
    return path


def mas(*argv: str) -> Any:
    return runner.invoke(app, list(argv))


def the_key(crew: Path) -> str:
    return key_inputs(tools_of(crew)["lookup"], {"query": "q"}).key


def diskcache_layout(home: Path, crew: Path, marker: Path) -> None:
    """A cache.db as diskcache lays it out: a pickle under the run's own key, a file outside."""
    cache_dir(home).mkdir(parents=True)
    with sqlite3.connect(cache_dir(home) / "cache.db") as db:
        db.execute("CREATE TABLE Settings (key TEXT NOT NULL UNIQUE, value)")
        db.execute(
            "CREATE TABLE Cache (rowid INTEGER PRIMARY KEY, key BLOB, raw INTEGER, "
            "store_time REAL, expire_time REAL, access_time REAL, access_count INTEGER DEFAULT 0,"
            " tag BLOB, size INTEGER DEFAULT 0, mode INTEGER DEFAULT 0, filename TEXT, value BLOB)"
        )
        rows = [
            (the_key(crew), 1, "lookup", PICKLE_MODE, None, pickle.dumps(Payload(marker))),
            ("lookup/other", 1, "lookup", BINARY_MODE, "../../victim", None),
        ]
        db.executemany(
            "INSERT INTO Cache (key, raw, store_time, access_time, tag, mode, filename, value) "
            "VALUES (?, ?, 0, 0, ?, ?, ?, ?)",
            rows,
        )


def assert_untouched(marker: Path, victim: Path) -> None:
    assert not marker.exists(), "a value from the cache file was unpickled"
    assert victim.read_text(encoding="utf-8") == "precious"


def test_a_tampered_diskcache_file_never_runs_code_or_deletes_outside_the_cache(
    crew: Path, home: Path, victim: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    diskcache_layout(home, crew, marker)
    stats = mas("cache", "stats", "--home", str(home))
    assert stats.exit_code == 2
    assert "is not a mas tool cache" in stats.stderr
    assert "mas cache clear" in stats.stderr
    why = mas(
        "cache", "explain", "lookup", "--crew", str(crew), "--home", str(home), "--arg", "query=q"
    )
    assert why.exit_code == 2
    assert "is not a mas tool cache" in why.stderr
    ran = mas("run", str(crew), "--offline", "--home", str(home), "-q", "--json")
    assert ran.exit_code == 0, ran.stderr
    events = [json.loads(line) for line in _last_log(home).read_text().splitlines()]
    assert [e["cached"] for e in of_type(events, "tool_call")] == [False]
    assert "is not a mas tool cache" in of_type(events, "warning")[0]["message"]
    assert_untouched(marker, victim)
    cleared = mas("cache", "clear", "--home", str(home))
    assert cleared.exit_code == 0, cleared.stderr
    assert "reset the tool cache" in cleared.stdout
    assert_untouched(marker, victim)
    assert of_type(run(crew, home), "warning") == []  # a fresh cache after the reset
    assert [e["cached"] for e in of_type(run(crew, home), "tool_call")] == [True]
    assert_untouched(marker, victim)


def test_rows_of_our_layout_are_read_as_data_only(
    crew: Path, home: Path, victim: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    run(crew, home)  # a real cache, then rows rewritten in place
    good = json.loads(next(iter(_values(home))))
    wrong_types = {**good, "output": ["not", "text"], "latency_s": "fast"}
    with sqlite3.connect(cache_dir(home) / "cache.db") as db:
        db.execute("UPDATE entries SET value = ?", [pickle.dumps(Payload(marker))])
        db.execute(
            "INSERT INTO entries VALUES ('lookup/x', 'lookup', ?, 1, NULL, 0)",
            [json.dumps(wrong_types)],
        )
        db.execute(
            "INSERT INTO entries VALUES ('lookup/y', '../../victim', '../../victim', 1, NULL, 0)"
        )
    events = run(crew, home)
    assert [e["cached"] for e in of_type(events, "tool_call")] == [False]
    stats = mas("cache", "stats", "--home", str(home), "--json")
    assert stats.exit_code == 0, stats.stderr
    # the pickle row was replaced by the run's own miss; the others are skipped as unreadable
    assert [(t["tool"], t["entries"]) for t in json.loads(stats.stdout)["tools"]] == [("lookup", 1)]
    assert mas("cache", "clear", "--tool", "lookup", "--home", str(home)).exit_code == 0
    assert mas("cache", "clear", "--home", str(home)).exit_code == 0
    assert_untouched(marker, victim)
    assert CacheEntry.from_json(json.dumps(wrong_types)) is None


def _last_log(home: Path) -> Path:
    return sorted((home / "runs").iterdir())[-1] / "events.jsonl"


def _values(home: Path) -> list[str]:
    db = CacheDb(cache_dir(home), timeout_s=1, create=False)
    try:
        return list(db.values())
    finally:
        db.close()


@pytest.mark.parametrize("name", ["cache.db", "cache.db-wal", "cache.db-shm"])
def test_a_link_in_the_cache_folder_is_never_followed(
    name: str, crew: Path, home: Path, victim: Path
) -> None:
    cache_dir(home).mkdir(parents=True)
    (cache_dir(home) / name).symlink_to(victim)
    events = run(crew, home)
    assert of_type(events, "run_finished")[0]["status"] == "ok"
    assert "is a symbolic link" in of_type(events, "warning")[0]["message"]
    assert mas("cache", "stats", "--home", str(home)).exit_code == 2
    cleared = mas("cache", "clear", "--home", str(home))
    assert cleared.exit_code == 0, cleared.stderr
    assert not (cache_dir(home) / name).is_symlink()  # the link is gone, its target is not
    assert victim.read_text(encoding="utf-8") == "precious"


def test_a_link_in_place_of_the_lock_file_is_never_followed(
    crew: Path, home: Path, victim: Path
) -> None:
    cache_dir(home).mkdir(parents=True)
    (cache_dir(home) / "cache.db-lock").symlink_to(victim)
    run(crew, home)
    events = run(crew, home)
    assert of_type(events, "run_finished")[0]["status"] == "ok"
    assert [e["cached"] for e in of_type(events, "tool_call")] == [True]  # the cache works
    assert (cache_dir(home) / "cache.db-lock").is_symlink()
    assert victim.read_text(encoding="utf-8") == "precious"


def test_a_linked_cache_folder_is_refused_and_never_cleared_through(
    crew: Path, home: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "cache.db").write_bytes(b"someone else's file")
    home.mkdir(parents=True)
    cache_dir(home).symlink_to(elsewhere)
    events = run(crew, home)
    assert "is a symbolic link" in of_type(events, "warning")[0]["message"]
    cleared = mas("cache", "clear", "--home", str(home))
    assert cleared.exit_code == 2
    assert "is a symbolic link" in cleared.stderr
    assert (elsewhere / "cache.db").read_bytes() == b"someone else's file"


def test_another_programs_database_is_never_written(crew: Path, home: Path) -> None:
    cache_dir(home).mkdir(parents=True)
    with sqlite3.connect(cache_dir(home) / "cache.db") as db:
        db.execute("CREATE TABLE notes (body TEXT)")
        db.execute("INSERT INTO notes VALUES ('keep me')")
    before = (cache_dir(home) / "cache.db").read_bytes()
    events = run(crew, home)
    assert "is not a mas tool cache" in of_type(events, "warning")[0]["message"]
    assert (cache_dir(home) / "cache.db").read_bytes() == before


def test_a_garbage_cache_is_a_miss_in_a_run_and_cleared_by_reset(crew: Path, home: Path) -> None:
    cache_dir(home).mkdir(parents=True)
    (cache_dir(home) / "cache.db").write_bytes(b"\x00garbage" * 512)
    (cache_dir(home) / "cache.db-wal").write_bytes(b"more garbage")
    events = run(crew, home)
    assert of_type(events, "run_finished")[0]["status"] == "ok"
    assert "cannot open" in of_type(events, "warning")[0]["message"]
    assert mas("cache", "clear", "--tool", "lookup", "--home", str(home)).exit_code == 2
    cleared = mas("cache", "clear", "--home", str(home))
    assert (cleared.exit_code, cleared.stdout.split()[0]) == (0, "reset")
    assert sorted(p.name for p in cache_dir(home).iterdir()) == []
    run(crew, home)
    assert [e["cached"] for e in of_type(run(crew, home), "tool_call")] == [True]
