"""The tool cache: its key, what it stores and never stores, TTL, and every way it can fail.

Tools count their own calls (toolcrew.calls), so a hit is told from a miss without a clock;
expiry is tested on an injected clock.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from toolcrew import (
    TOOLS_PY,
    calls,
    of_type,
    run,
    subprocess_env,
    tools_of,
    write_crew,
)

from mas_cli.tools import Tool
from mas_cli.tools.base import ToolResult
from mas_cli.tools.cache import CachedCall, ToolCache, cache_dir, call_cached
from mas_cli.tools.cache_admin import cache_stats, clear_cache, entries, opened
from mas_cli.tools.cachekey import KeyInputs, canonical_json, key_inputs

SECRET = "sk-test-0123456789abcdef-never-in-the-cache"


def call(tool: Tool, cache: ToolCache | None, **arguments: Any) -> CachedCall:
    return asyncio.run(call_cached(tool, arguments, cache))


@pytest.fixture
def crew(tmp_path: Path) -> Path:
    return write_crew(tmp_path / "crew")


@pytest.fixture
def tools(crew: Path) -> dict[str, Tool]:
    return tools_of(crew)


@pytest.fixture
def cache(tmp_path: Path) -> Any:
    with ToolCache(tmp_path / "cache") as opened_cache:
        yield opened_cache


# --- the key --------------------------------------------------------------------------------


def test_canonical_json_sorts_keys_and_reads_integral_floats_as_integers() -> None:
    assert canonical_json({"b": 1.0, "a": [2.0, 2.5, {"d": 0.0, "c": True}]}) == (
        '{"a":[2,2.5,{"c":true,"d":0}],"b":1}'
    )
    assert canonical_json({"x": 1}) == canonical_json({"x": 1.0})
    assert canonical_json({"x": True}) != canonical_json({"x": 1})


def test_argument_order_and_number_forms_do_not_change_the_key(tools: dict[str, Tool]) -> None:
    lookup = tools["lookup"]
    first = key_inputs(lookup, {"query": "q", "limit": 3, "ratio": 0.5})
    assert key_inputs(lookup, {"ratio": 0.5, "limit": 3.0, "query": "q"}) == first
    assert key_inputs(lookup, {"query": "q", "limit": 4}).digest != first.digest


def test_defaults_are_part_of_the_key(tools: dict[str, Tool]) -> None:
    lookup = tools["lookup"]
    assert key_inputs(lookup, {"query": "q"}) == key_inputs(lookup, {"query": "q", "limit": 2})
    assert key_inputs(lookup, {"query": "q"}).arguments == '{"limit":2,"query":"q","ratio":0.5}'


def test_a_change_to_the_code_changes_the_key(crew: Path, tools: dict[str, Tool]) -> None:
    before = key_inputs(tools["lookup"], {"query": "q"})
    write_crew(crew.parent, tools_py=TOOLS_PY.replace("* limit}", "* limit, 'v': 2}"))
    after = key_inputs(tools_of(crew)["lookup"], {"query": "q"})
    assert after.fingerprint != before.fingerprint
    assert after.digest != before.digest
    assert (after.arguments, after.version) == (before.arguments, before.version)


def test_a_change_elsewhere_in_the_module_changes_the_key(
    crew: Path, tools: dict[str, Tool]
) -> None:
    before = key_inputs(tools["lookup"], {"query": "q"})
    write_crew(crew.parent, tools_py=TOOLS_PY + "\nHELPER_CONSTANT = 2\n")
    assert key_inputs(tools_of(crew)["lookup"], {"query": "q"}).digest != before.digest


def test_a_change_of_version_changes_the_key(crew: Path, tools: dict[str, Tool]) -> None:
    before = key_inputs(tools["lookup"], {"query": "q"})
    tools_v2 = {"lookup": {"function": "tools.py:lookup", "kind": "deterministic", "version": "v2"}}
    after = key_inputs(tools_of(write_crew(crew.parent, tools_v2))["lookup"], {"query": "q"})
    assert (after.version, before.version) == ("v2", "v1")
    assert after.digest != before.digest


def test_timeouts_do_not_change_the_key(crew: Path, tools: dict[str, Tool]) -> None:
    before = key_inputs(tools["lookup"], {"query": "q"})
    slow = {
        "lookup": {
            "function": "tools.py:lookup",
            "kind": "deterministic",
            "version": "v1",
            "timeout_s": 99,
        }
    }
    assert key_inputs(tools_of(write_crew(crew.parent, slow))["lookup"], {"query": "q"}) == before


def test_command_tool_key_follows_its_script(tmp_path: Path) -> None:
    script = tmp_path / "kb.py"
    script.write_text("import sys\nprint(sys.argv[-1])\n", encoding="utf-8")
    tool_spec = {
        "search": {"command": ["python", "kb.py", "{query}"], "kind": "deterministic"},
    }
    crew = write_crew(tmp_path, tool_spec)
    before = key_inputs(tools_of(crew)["search"], {"query": "q"})
    script.write_text("import sys\nprint(sys.argv[-1].upper())\n", encoding="utf-8")
    assert key_inputs(tools_of(crew)["search"], {"query": "q"}).digest != before.digest


def test_secrets_in_the_environment_never_enter_the_key_or_the_cache_files(
    monkeypatch: pytest.MonkeyPatch, tools: dict[str, Tool], tmp_path: Path
) -> None:
    without = key_inputs(tools["env_reader"], {"query": "q"})
    monkeypatch.setenv("MAS_TEST_SECRET", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    assert key_inputs(tools["env_reader"], {"query": "q"}) == without
    with ToolCache(tmp_path / "cache") as cache:
        done = call(tools["env_reader"], cache, query="q")
        assert (done.status, done.result.output) == ("miss", "authorized")
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path


# --- hits, misses, and what is never stored -------------------------------------------------


def test_second_call_is_a_hit_that_saves_the_first_calls_time(
    tools: dict[str, Tool], cache: ToolCache, crew: Path
) -> None:
    first = call(tools["lookup"], cache, query="refunds")
    second = call(tools["lookup"], cache, limit=2, query="refunds")
    assert (first.status, second.status) == ("miss", "hit")
    assert first.key == second.key == key_inputs(tools["lookup"], {"query": "refunds"}).digest
    assert second.result == ToolResult(
        ok=True, output=first.result.output, latency_s=second.result.latency_s
    )
    assert second.saved_s == round(first.result.latency_s, 6)
    assert first.problems == second.problems == ()
    assert calls(crew.parent) == ["lookup"]


def test_failures_are_never_cached(tools: dict[str, Tool], cache: ToolCache, crew: Path) -> None:
    for _ in range(2):
        done = call(tools["fails"], cache, query="q")
        assert (done.status, done.result.ok) == ("miss", False)
        assert "RuntimeError: cannot look up 'q'" in (done.result.error or "")
    assert calls(crew.parent) == ["fails", "fails"]
    with opened(cache.directory) as db:
        assert list(entries(db)) == []


def test_timeouts_are_never_cached(tools: dict[str, Tool], cache: ToolCache) -> None:
    done = call(tools["hangs"], cache)
    assert done.result.timed_out
    assert call(tools["hangs"], cache).status == "miss"


def test_bad_arguments_are_never_cached(tools: dict[str, Tool], cache: ToolCache) -> None:
    for _ in range(2):
        done = call(tools["lookup"], cache, query=3)
        assert (done.status, done.result.ok) == ("miss", False)


@pytest.mark.parametrize("name", ["live_noisy", "effect"])
def test_live_and_side_effect_tools_are_never_cached(
    name: str, tools: dict[str, Tool], cache: ToolCache, crew: Path
) -> None:
    arguments = {"query": "q"} if name == "effect" else {}
    for _ in range(2):
        done = call(tools[name], cache, **arguments)
        assert (done.status, done.key, done.saved_s) == ("off", None, None)
    assert len(calls(crew.parent)) == 2
    assert not cache.directory.exists()


def test_no_cache_runs_every_call(tools: dict[str, Tool], crew: Path) -> None:
    assert [call(tools["lookup"], None, query="q").status for _ in range(2)] == ["off", "off"]
    assert calls(crew.parent) == ["lookup", "lookup"]


def test_a_cached_tool_is_called_with_normalized_numbers(
    tools: dict[str, Tool], cache: ToolCache
) -> None:
    # 2.0 and 2 share a key, so the tool must see the same value for both.
    assert '"limit": 2,' in call(tools["lookup"], cache, query="q", limit=2.0).result.output


def test_ttl_expires_entries(tools: dict[str, Tool], tmp_path: Path, crew: Path) -> None:
    now = [1_000_000.0]
    spec = {"lookup": {"function": "tools.py:lookup", "kind": "deterministic", "cache_ttl_s": 60}}
    lookup = tools_of(write_crew(crew.parent, spec))["lookup"]
    with ToolCache(tmp_path / "cache", clock=lambda: now[0]) as cache:
        assert call(lookup, cache, query="q").status == "miss"
        now[0] += 59
        assert call(lookup, cache, query="q").status == "hit"
        now[0] += 2
        assert call(lookup, cache, query="q").status == "miss"  # expired: run and stored again
        assert call(lookup, cache, query="q").status == "hit"
    assert calls(crew.parent) == ["lookup", "lookup"]


def test_without_ttl_entries_do_not_expire(tools: dict[str, Tool], tmp_path: Path) -> None:
    now = [1_000_000.0]
    with ToolCache(tmp_path / "cache", clock=lambda: now[0]) as cache:
        call(tools["lookup"], cache, query="q")
        now[0] += 10 * 365 * 86400
        assert call(tools["lookup"], cache, query="q").status == "hit"


def test_size_limit_evicts_least_recently_used(tmp_path: Path) -> None:
    # Past the limit, each store evicts the least recently used entries until the rest fit.
    big = "x" * 40_000

    def inputs(n: int) -> KeyInputs:
        return KeyInputs("t", "f", "", 10**6, f'{{"n":{n}}}')

    with ToolCache(tmp_path / "cache", size_limit=1_000_000) as cache:
        for n in range(60):
            assert cache.store(inputs(n), ToolResult(ok=True, output=big), None) is None
            assert cache.fetch(inputs(0)).entry is not None  # in use all along: never evicted
        assert cache.fetch(inputs(1)).entry is None  # stored early, never used again: evicted
        assert cache.fetch(inputs(59)).entry is not None
    stats = cache_stats(tmp_path / "cache")
    assert 10 < stats.tools[0].entries < 60
    assert stats.disk_bytes < 1_000_000 + 2 * len(big)


# --- a cache that cannot be used is a miss and a warning, never a failure -------------------


def test_corrupt_database_is_a_miss_and_one_warning(
    tools: dict[str, Tool], tmp_path: Path, crew: Path
) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "cache.db").write_bytes(b"this is not a database" * 100)
    with ToolCache(folder) as cache:
        first = call(tools["lookup"], cache, query="q")
        second = call(tools["lookup"], cache, query="q")
    assert (first.status, first.result.ok, second.status) == ("miss", True, "miss")
    assert len(first.problems) == 1
    assert "cannot open" in first.problems[0]
    assert second.problems == ()  # said once
    assert calls(crew.parent) == ["lookup", "lookup"]


def test_cache_path_that_is_a_file_is_a_miss_and_a_warning(
    tools: dict[str, Tool], tmp_path: Path
) -> None:
    (tmp_path / "cache").write_text("not a folder", encoding="utf-8")
    with ToolCache(tmp_path / "cache") as cache:
        done = call(tools["lookup"], cache, query="q")
    assert done.result.ok
    assert done.status == "miss"
    assert "cannot open" in done.problems[0]


def test_read_only_database_is_a_miss_and_a_warning(
    monkeypatch: pytest.MonkeyPatch, tools: dict[str, Tool], tmp_path: Path
) -> None:
    folder = tmp_path / "cache"
    with ToolCache(folder) as cache:
        call(tools["lookup"], cache, query="q")
    connect = sqlite3.connect

    def read_only(database: str, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        return connect(f"file:{database}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    with ToolCache(folder) as cache:
        done = call(tools["lookup"], cache, query="q")
    assert (done.status, done.result.ok) == ("miss", True)
    assert "readonly database" in done.problems[0]


def test_full_disk_on_write_is_a_warning_and_the_result_still_returns(
    monkeypatch: pytest.MonkeyPatch, tools: dict[str, Tool], tmp_path: Path
) -> None:
    connect = sqlite3.connect

    def full(database: str, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        db = connect(database, *args, **kwargs)
        (pages,) = db.execute("PRAGMA page_count").fetchone()
        db.execute(f"PRAGMA max_page_count = {max(pages, 1)}")  # SQLite's own 'disk is full'
        return db

    with ToolCache(tmp_path / "cache") as cache:
        assert cache.ready() is None  # made on a disk with room, then the disk fills
    monkeypatch.setattr(sqlite3, "connect", full)
    big = ToolResult(ok=True, output="x" * 100_000)  # needs new pages
    with ToolCache(tmp_path / "cache") as cache:
        problem = cache.store(key_inputs(tools["lookup"], {"query": "q"}), big, None)
        done = call(tools["lookup"], cache, query="q")
    assert "cannot write (OperationalError: database or disk is full)" in (problem or "")
    assert (done.status, done.result.ok) == ("miss", True)


def test_an_unreadable_entry_is_a_miss_and_is_replaced(
    tools: dict[str, Tool], cache: ToolCache
) -> None:
    inputs = key_inputs(tools["lookup"], {"query": "q"})
    assert cache.ready() is None
    with sqlite3.connect(cache.directory / "cache.db") as db:
        db.execute(
            "INSERT INTO entries VALUES (?, 'lookup', '{not json', 9, NULL, 0)", [inputs.key]
        )
    done = call(tools["lookup"], cache, query="q")
    assert (done.status, done.result.ok) == ("miss", True)
    assert "unreadable entry" in done.problems[0]
    assert call(tools["lookup"], cache, query="q").status == "hit"


# --- sharing: parallel tasks in one run, several processes ---------------------------------

SHARER = textwrap.dedent(
    """
    import sys
    import time
    from pathlib import Path
    from mas_cli.tools.base import ToolResult
    from mas_cli.tools.cache import ToolCache
    from mas_cli.tools.cachekey import KeyInputs

    folder, me = Path(sys.argv[1]), sys.argv[2]
    # Start together: each says it is ready, then waits for the other.
    (folder.parent / f"ready-{me}").touch()
    deadline = time.monotonic() + 60
    while len(list(folder.parent.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    problems = []
    with ToolCache(folder) as cache:
        for i in range(100):
            for name in (f"{me}-{i}", f"shared-{i}"):
                inputs = KeyInputs("t", "fingerprint", "", 1000, name)
                result = ToolResult(ok=True, output=name, latency_s=0.01)
                problems.append(cache.store(inputs, result, None))
                lookup = cache.fetch(inputs)
                problems.append(lookup.problem)
                assert lookup.entry is not None and lookup.entry.output == name, name
    print(sum(p is not None for p in problems), [p for p in problems if p][:1])
    """
)


def test_two_processes_share_one_cache(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", SHARER, str(folder), name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=subprocess_env(),
        )
        for name in ("a", "b")
    ]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert out.split()[0] == "0", out
    stats = cache_stats(folder)
    assert [(t.tool, t.entries) for t in stats.tools] == [("t", 300)]


def _runs_at_once(crew: Path, home: Path, count: int) -> None:
    """`count` processes of `mas run` of the crew on one home, started together; each ends ok."""
    argv = [sys.executable, "-m", "mas_cli", "run", str(crew), "--home", str(home), "-q"]
    children = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=subprocess_env())
        for _ in range(count)
    ]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err


def test_two_runs_at_once_share_the_cache_of_one_home(tmp_path: Path) -> None:
    script = [{"tool_calls": [{"name": "lookup", "arguments": {"query": "q"}}]}, {"text": "done"}]
    crew = write_crew(tmp_path / "crew", script=script)
    home = tmp_path / "home"
    _runs_at_once(crew, home, 2)
    third = run(crew, home)
    assert of_type(third, "warning") == []
    assert [e["cached"] for e in of_type(third, "tool_call")] == [True]


def test_clear_while_another_process_makes_the_cache_leaves_it_be(
    tools: dict[str, Tool], tmp_path: Path
) -> None:
    # `mas cache clear` found a cache.db without mas's mark, so not a mas cache, and deleted its
    # files by name: but it was a run making the cache, mid-transaction. That run's open then
    # failed (disk I/O error) and the run went uncached to its end. The run making it is
    # played by a connection holding the transaction that makes the store.
    from mas_cli.tools.cache_db import APPLICATION_ID, SCHEMA, SCHEMA_VERSION

    folder = tmp_path / "cache"
    folder.mkdir()
    maker = sqlite3.connect(folder / "cache.db", isolation_level=None)
    maker.execute("BEGIN IMMEDIATE")
    for statement in filter(str.strip, SCHEMA.split(";")):
        maker.execute(statement)
    maker.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    maker.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    inode = (folder / "cache.db").stat().st_ino
    try:
        assert clear_cache(folder) == 0  # nothing in it yet
    finally:
        maker.execute("COMMIT")
        maker.close()
    assert (folder / "cache.db").stat().st_ino == inode  # never deleted under its maker
    with ToolCache(folder) as shared:
        assert shared.ready() is None
        call(tools["lookup"], shared, query="q")
        assert call(tools["lookup"], shared, query="q").status == "hit"


def test_parallel_tasks_in_one_run_share_the_cache(tmp_path: Path) -> None:
    script = [{"tool_calls": [{"name": "lookup", "arguments": {"query": "q"}}]}, {"text": "done"}]
    agent_b = {"role": "B", "model": "offline", "tools": ["lookup"], "script": script}
    crew = write_crew(
        tmp_path / "crew",
        {"lookup": {"function": "tools.py:lookup", "kind": "deterministic"}},
        script=script,
        process="parallel",
        extra_agents={"b": agent_b},
        extra_tasks=[{"id": "u", "agent": "b", "prompt": "Go too."}],
    )
    home = tmp_path / "home"
    first = run(crew, home)
    assert of_type(first, "run_finished")[0]["status"] == "ok"
    assert of_type(first, "warning") == []
    assert len(of_type(first, "tool_call")) == 2
    second = run(crew, home)
    assert [e["cached"] for e in of_type(second, "tool_call")] == [True, True]


MEET_PY = (
    TOOLS_PY
    + """

def meet(query: str) -> str:
    \"\"\"Waits (up to 3 s) for a second caller of the same call to come in beside it.\"\"\"
    _count("meet")
    for _ in range(300):
        if CALLS.read_text(encoding="utf-8").split().count("meet") > 1:
            break
        time.sleep(0.01)
    return query.upper()
"""
)


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


MEET_SCRIPT = [{"tool_calls": [{"name": "meet", "arguments": {"query": "q"}}]}, {"text": "done"}]


def test_one_call_runs_while_a_parallel_task_waits_for_its_entry(tmp_path: Path) -> None:
    # Two tasks of a parallel crew asking the same deterministic call at once both missed and
    # both ran the tool: the same search run by two agents ran twice. The tool waits for the
    # second caller, so without the wait for the first one's entry both run, every time.
    agent_b = {"role": "B", "model": "offline", "tools": ["meet"], "script": MEET_SCRIPT}
    crew = write_crew(
        tmp_path / "crew",
        {"meet": {"function": "tools.py:meet", "kind": "deterministic"}},
        script=MEET_SCRIPT,
        tools_py=MEET_PY,
        process="parallel",
        extra_agents={"b": agent_b},
        extra_tasks=[{"id": "u", "agent": "b", "prompt": "Go too."}],
    )
    events = run(crew, tmp_path / "home")
    assert of_type(events, "run_finished")[0]["status"] == "ok"
    assert calls(crew.parent) == ["meet"]
    answered = of_type(events, "tool_call")
    assert sorted(e["cached"] for e in answered) == [False, True]
    assert {e["status"] for e in answered} == {"ok"}
    assert of_type(events, "warning") == []


def test_one_call_runs_while_another_process_waits_for_its_entry(tmp_path: Path) -> None:
    # Two `mas run` on one home (two terminals, a CI matrix on one cache folder) both ran it.
    crew = write_crew(
        tmp_path / "crew",
        {"meet": {"function": "tools.py:meet", "kind": "deterministic"}},
        script=MEET_SCRIPT,
        tools_py=MEET_PY,
    )
    home = tmp_path / "home"
    _runs_at_once(crew, home, 2)
    assert calls(crew.parent) == ["meet"]
    logs = sorted((home / "runs").glob("*/events.jsonl"))
    answered = [e for log in logs for e in of_type(jsonl(log), "tool_call")]
    assert sorted(e["cached"] for e in answered) == [False, True]


def test_a_caller_that_failed_leaves_the_one_waiting_to_run_it_itself(
    tools: dict[str, Tool], cache: ToolCache, crew: Path
) -> None:
    async def both() -> list[CachedCall]:
        return list(
            await asyncio.gather(
                *(call_cached(tools["fails"], {"query": "q"}, cache) for _ in "ab")
            )
        )

    done = asyncio.run(both())
    assert [d.result.ok for d in done] == [False, False]  # nothing stored to wait for
    assert calls(crew.parent) == ["fails", "fails"]


def test_a_caller_waiting_on_a_hung_one_ends_within_its_timeout(tmp_path: Path) -> None:
    # The waiter waited up to timeout_s for the hung first caller's entry, then ran the tool
    # itself with a timeout_s of its own: the task waited twice the bound its user set.
    hangs = {"function": "tools.py:hangs", "kind": "deterministic", "timeout_s": 2}
    tool = tools_of(write_crew(tmp_path / "crew", {"hangs": hangs}))["hangs"]

    async def timed(shared: ToolCache) -> tuple[CachedCall, float]:
        started = time.monotonic()
        done = await call_cached(tool, {}, shared)
        return done, time.monotonic() - started

    async def both(shared: ToolCache) -> list[tuple[CachedCall, float]]:
        return list(await asyncio.gather(timed(shared), timed(shared)))

    with ToolCache(tmp_path / "cache") as shared:
        done = asyncio.run(both(shared))
    assert [d.result.timed_out for d, _ in done] == [True, True]
    assert max(took for _, took in done) < 3.5  # 2 s and a margin: never 2 s waited + 2 s run
    assert "waiting for the same call" in str(done[1][0].result.error)


HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
    fcntl.lockf(fd, fcntl.LOCK_EX, 1, int(sys.argv[2]), os.SEEK_SET)
    print("held", flush=True)
    sys.stdin.read()
    """
)


def test_a_process_that_holds_a_key_for_ever_holds_a_caller_no_longer_than_its_timeout(
    tmp_path: Path,
) -> None:
    lookup = {"function": "tools.py:lookup", "kind": "deterministic", "timeout_s": 0.5}
    crew = write_crew(tmp_path / "crew", {"lookup": lookup})
    tool = tools_of(crew)["lookup"]
    with ToolCache(tmp_path / "cache") as shared:
        assert shared.ready() is None
        digest = key_inputs(tool, {"query": "q", "limit": 2, "ratio": 0.5}).digest
        argv = [sys.executable, "-c", HOLDER, str(tmp_path / "cache" / "cache.db-lock")]
        holder = subprocess.Popen(
            [*argv, str(int(digest[:10], 16))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == "held\n"
            done = call(tool, shared, query="q")
        finally:
            holder.communicate("")
    assert (done.status, done.result.timed_out) == ("miss", True)  # timeout_s spent waiting
    assert "timed out after 0.5s (0.5s of it waiting for the same call" in str(done.result.error)
    assert calls(crew.parent) == []  # no time left to run it in


# --- the engine: events, warnings, and a run that never fails for the cache's sake ----------

SCRIPT = [
    {
        "tool_calls": [
            {"name": "lookup", "arguments": {"query": "q", "limit": 1}},
            {"name": "live_noisy", "arguments": {}},
        ]
    },
    {"text": "done"},
]


def test_events_say_hit_or_miss_the_key_and_the_time_saved(tmp_path: Path) -> None:
    crew = write_crew(tmp_path / "crew", script=SCRIPT)
    home = tmp_path / "home"
    first = {e["tool"]: e for e in of_type(run(crew, home), "tool_call")}
    second = {e["tool"]: e for e in of_type(run(crew, home), "tool_call")}
    assert first["lookup"]["cached"] is False
    assert len(first["lookup"]["cache_key"]) == 64
    assert "saved_s" not in first["lookup"]
    assert second["lookup"]["cached"] is True
    assert second["lookup"]["cache_key"] == first["lookup"]["cache_key"]
    assert second["lookup"]["saved_s"] == first["lookup"]["latency_s"]
    assert second["lookup"]["result_digest"] == first["lookup"]["result_digest"]
    for events in (first, second):  # a live tool: no lookup, no key
        assert events["live_noisy"]["cached"] is False
        assert "cache_key" not in events["live_noisy"]
    assert sorted(calls(crew.parent)) == ["lookup", "noisy", "noisy"]  # function names
    with opened(cache_dir(home)) as db:
        assert [e.inputs.tool for e in entries(db)] == ["lookup"]


def test_run_with_a_corrupt_cache_succeeds_with_a_warning_event(tmp_path: Path) -> None:
    crew = write_crew(tmp_path / "crew", script=SCRIPT)
    home = tmp_path / "home"
    cache_dir(home).mkdir(parents=True)
    (cache_dir(home) / "cache.db").write_bytes(b"\x00garbage" * 512)
    events = run(crew, home)
    assert of_type(events, "run_finished")[0]["status"] == "ok"
    warnings = of_type(events, "warning")
    assert len(warnings) == 1
    assert "tool cache" in warnings[0]["message"]
    assert warnings[0]["task"] == "t"
    lookup = next(e for e in of_type(events, "tool_call") if e["tool"] == "lookup")
    assert (lookup["status"], lookup["cached"]) == ("ok", False)


def test_run_with_a_read_only_cache_succeeds_with_a_warning_event(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    crew = write_crew(tmp_path / "crew", script=SCRIPT)
    home = tmp_path / "home"
    run(crew, home)
    connect = sqlite3.connect
    monkeypatch.setattr(
        sqlite3, "connect", lambda db, *a, **k: connect(f"file:{db}?mode=ro", *a, uri=True, **k)
    )
    events = run(crew, home)
    assert of_type(events, "run_finished")[0]["status"] == "ok"
    assert "readonly" in of_type(events, "warning")[0]["message"]


def test_clear_removes_one_tool_or_everything(tools: dict[str, Tool], cache: ToolCache) -> None:
    call(tools["lookup"], cache, query="a")
    call(tools["lookup"], cache, query="b")
    call(tools["noisy"], cache)
    cache.close()
    assert clear_cache(cache.directory, "lookup") == 2
    assert [(t.tool, t.entries) for t in cache_stats(cache.directory).tools] == [("noisy", 1)]
    assert clear_cache(cache.directory) == 1
    assert cache_stats(cache.directory).tools == ()


def test_looking_at_the_cache_does_not_create_it(tmp_path: Path) -> None:
    stats = cache_stats(tmp_path / "nothing")
    assert (stats.tools, stats.disk_bytes) == ((), 0)
    assert clear_cache(tmp_path / "nothing") == 0
    assert not (tmp_path / "nothing").exists()
