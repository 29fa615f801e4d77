"""The tool runtime: crews written to tmp_path, loaded by the real loader, run as real code and
real processes. Timeouts are tiny against sleeps of a minute, so nothing here races the clock."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from mas_cli.errors import ToolError
from mas_cli.spec.loader import load_crew
from mas_cli.tools import Tool, ToolResult, check_arguments, load_tools

SEARCH_PY = '''
from typing import Literal, Optional


def search(
    query: str,
    limit: int = 5,
    tags: list[str] | None = None,
    mode: Literal["fast", "full"] = "fast",
    ratio: float = 0.5,
    strict: bool = False,
    extra: Optional[dict] = None,
) -> dict:
    """Search the knowledge base
    for matching notes.

    More words that are not the summary.

    Args:
        query: The text to look for.
        limit (int): Most results
            to return.
        tags: Only notes with these tags.

    Returns:
        The matches.
    """
    return {"query": query, "limit": limit, "tags": tags, "mode": mode}
'''

ARGV_PY = "import json, sys\nprint(json.dumps(sys.argv[1:]))\n"

# Spawns a grandchild, records both pids (atomically), then hangs.
SPAWN_PY = """
import os, subprocess, sys, time
grandchild = subprocess.Popen(["sleep", "60"])
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {grandchild.pid}")
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(60)
"""


def make_crew(tmp: Path, tools: dict[str, Any], files: dict[str, str]) -> dict[str, Tool]:
    """Write a crew with these tools and files, load it with the real loader, load its tools."""
    for name, text in files.items():
        (tmp / name).write_text(textwrap.dedent(text), encoding="utf-8")
    crew = {
        "name": "tools-test",
        "tools": tools,
        "agents": {"a": {"role": "A", "model": "offline", "tools": list(tools)}},
        "tasks": [{"id": "t", "agent": "a", "prompt": "Go."}],
    }
    (tmp / "crew.yaml").write_text(yaml.safe_dump(crew, sort_keys=False), encoding="utf-8")
    return load_tools(load_crew(tmp / "crew.yaml"))


def run(tool: Tool, **arguments: Any) -> ToolResult:
    return asyncio.run(tool.call(arguments))


def gone(pid: int) -> bool:
    """True once the process no longer exists (a zombie awaiting init's reaping counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def wait_gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def search(tmp_path: Path) -> Tool:
    return make_crew(
        tmp_path, {"search": {"function": "tools.py:search"}}, {"tools.py": SEARCH_PY}
    )["search"]


# --- function tools: description and schema ---------------------------------------------------


def test_schema_from_type_hints_and_docstring(search: Tool) -> None:
    assert search.description == "Search the knowledge base for matching notes."
    assert search.parameters == {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "The text to look for."},
            "limit": {"type": "integer", "description": "Most results to return.", "default": 5},
            "tags": {
                "type": ["array", "null"],
                "items": {"type": "string"},
                "description": "Only notes with these tags.",
                "default": None,
            },
            "mode": {"type": "string", "enum": ["fast", "full"], "default": "fast"},
            "ratio": {"type": "number", "default": 0.5},
            "strict": {"type": "boolean", "default": False},
            "extra": {"type": ["object", "null"], "default": None},
        },
        "required": ["query"],
        "additionalProperties": False,
    }


def test_explicit_parameters_and_description_win(tmp_path: Path) -> None:
    spec = {
        "function": "tools.py:search",
        "description": "Find notes.",
        "parameters": {"query": {"type": "string"}, "limit": {"type": "integer", "default": 3}},
    }
    tool = make_crew(tmp_path, {"search": spec}, {"tools.py": SEARCH_PY})["search"]
    assert tool.description == "Find notes."
    assert tool.parameters == {
        "type": "object",
        "properties": {"query": {"type": "string"}, "limit": {"type": "integer", "default": 3}},
        "required": ["query"],
        "additionalProperties": False,
    }


def test_unsupported_hint_is_a_load_error(tmp_path: Path) -> None:
    files = {"tools.py": "def f(x: set[int]) -> str:\n    return ''\n"}
    with pytest.raises(ToolError, match=r"tools\.f: 'x': type set\[int\] has no JSON Schema form"):
        make_crew(tmp_path, {"f": {"function": "tools.py:f"}}, files)


def test_import_failure_names_the_tool_file_and_error(tmp_path: Path) -> None:
    files = {"tools.py": "raise RuntimeError('boom')\ndef f() -> str:\n    return ''\n"}
    with pytest.raises(ToolError) as caught:
        make_crew(tmp_path, {"f": {"function": "tools.py:f"}}, files)
    assert str(caught.value).startswith("tools.f: cannot import tools.py: RuntimeError: boom")


def test_sibling_imports_and_module_references(tmp_path: Path) -> None:
    files = {
        "shout_helper.py": "def loud(text: str) -> str:\n    return text.upper()\n",
        "tools.py": "from shout_helper import loud\n\ndef shout(text: str) -> str:\n"
        "    return loud(text)\n",
    }
    tools = make_crew(
        tmp_path,
        {"shout": {"function": "tools.py:shout"}, "dedent": {"function": "textwrap:dedent"}},
        files,
    )
    assert run(tools["shout"], text="hi").output == "HI"
    assert run(tools["dedent"], text="  a\n  b").output == "a\nb"
    assert str(tmp_path.resolve()) not in sys.path  # only while importing


# --- function tools: calls --------------------------------------------------------------------

CALLS_PY = """
import asyncio, threading, time


def where(n: int) -> dict:
    return {"n": n, "thread": threading.current_thread().name}


async def greet(name: str) -> str:
    await asyncio.sleep(0)
    return f"hello {name}"


def check(account: str) -> str:
    return _validate(account)


def _validate(account: str) -> str:
    raise ValueError(f"bad account {account}")


def hang() -> str:
    time.sleep(60)
    return "never"


async def hang_async() -> str:
    await asyncio.sleep(60)
    return "never"


def big(n: int, char: str = "x") -> str:
    return char * n


def echo(q: str, n: int) -> dict:
    return {"q": q, "n": n}
"""


@pytest.fixture
def calls(tmp_path: Path) -> dict[str, Tool]:
    tools = {
        name: {"function": f"tools.py:{name}"}
        for name in ("where", "greet", "check", "hang", "hang_async")
    }
    tools["hang"]["timeout_s"] = tools["hang_async"]["timeout_s"] = 0.5
    tools["big"] = {"function": "tools.py:big", "max_output_bytes": 101}
    tools["echo"] = {
        "function": "tools.py:echo",
        "parameters": {"q": {"type": "string"}, "n": {"type": "integer", "default": 3}},
    }
    return make_crew(tmp_path, tools, {"tools.py": CALLS_PY})


def test_sync_function_runs_in_a_thread_and_returns_json(calls: dict[str, Tool]) -> None:
    result = run(calls["where"], n=2)
    assert result.ok, result
    value = json.loads(result.output)
    assert value["n"] == 2
    assert value["thread"] != "MainThread"
    assert result.error is None
    assert result.latency_s > 0


def test_async_function_runs_on_the_loop(calls: dict[str, Tool]) -> None:
    result = run(calls["greet"], name="Ada")
    assert (result.ok, result.output, result.error) == (True, "hello Ada", None)


def test_raising_function_is_a_result_with_the_tools_traceback(calls: dict[str, Tool]) -> None:
    result = run(calls["check"], account="tx-1")
    assert not result.ok
    assert result.error == "ValueError: bad account tx-1"
    assert result.output == "error: ValueError: bad account tx-1"
    assert result.traceback is not None
    assert result.traceback.startswith("Traceback (most recent call last):")
    assert "in check" in result.traceback
    assert "in _validate" in result.traceback
    assert "mas_cli" not in result.traceback
    assert "asyncio" not in result.traceback


@pytest.mark.parametrize("name", ["hang", "hang_async"])
def test_function_timeout_abandons_the_call(calls: dict[str, Tool], name: str) -> None:
    started = time.monotonic()
    result = run(calls[name])
    assert time.monotonic() - started < 10  # the abandoned thread does not hold up the loop's end
    assert result.timed_out
    assert not result.ok
    assert result.error == "timed out after 0.5s"
    assert result.output == "error: timed out after 0.5s"


def test_output_is_cut_and_the_cut_is_said(calls: dict[str, Tool]) -> None:
    result = run(calls["big"], n=1000)
    assert result.ok
    assert result.truncated
    assert result.output == "x" * 101 + "\n[output cut at 101 bytes of 1000]"
    # A character split by the cut is dropped, never half-shown.
    result = run(calls["big"], n=100, char="é")
    assert result.output == "é" * 50 + "\n[output cut at 101 bytes of 200]"
    assert not run(calls["big"], n=101).truncated


def test_argument_messages(search: Tool) -> None:
    assert check_arguments(search, {"query": "q"}) == []
    assert check_arguments(search, {}) == ["query: required"]
    assert check_arguments(search, {"query": "q", "limit": "x", "tags": ["a", 5]}) == [
        "limit: 'x' is not of type 'integer'",
        "tags[1]: 5 is not of type 'string'",
    ]
    assert check_arguments(search, {"query": "q", "mode": "slow", "bogus": 1}) == [
        "bogus: unknown argument (expected: query, limit, tags, mode, ratio, strict, extra)",
        "mode: 'slow' is not one of ['fast', 'full']",
    ]


def test_bad_arguments_are_told_to_the_model(search: Tool) -> None:
    result = asyncio.run(search.call({"limit": "x"}))
    assert not result.ok
    assert result.error == "bad arguments: query: required; limit: 'x' is not of type 'integer'"
    assert result.output == f"error: {result.error}. Fix the arguments and call again."


def test_defaults_from_the_schema_are_filled_in(calls: dict[str, Tool], search: Tool) -> None:
    assert json.loads(run(calls["echo"], q="a").output) == {"q": "a", "n": 3}
    assert json.loads(run(search, query="q").output) == {
        "query": "q",
        "limit": 5,
        "tags": None,
        "mode": "fast",
    }


# --- command tools ----------------------------------------------------------------------------


def test_command_passes_arguments_literally_without_a_shell(tmp_path: Path) -> None:
    spec = {
        "command": ["python", "argv.py", "--query", "{query}", "n={limit}", "{tags}", "{flag}"],
        "parameters": {
            "query": {"type": "string"},
            "limit": {"type": "integer", "default": 2},
            "tags": {"type": "array"},
            "flag": {"type": "boolean"},
        },
    }
    tool = make_crew(tmp_path, {"echo": spec}, {"argv.py": ARGV_PY})["echo"]
    nasty = "a b; rm -rf x $(echo hi) `id` | tee pwned > out && echo 'done' \"$HOME\""
    result = run(tool, query=nasty, tags=["x", 1], flag=True)
    assert result.ok, result
    assert result.exit_code == 0
    assert json.loads(result.output) == ["--query", nasty, "n=2", '["x", 1]', "True"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["argv.py", "crew.yaml"]


def test_command_parameters_from_placeholders(tmp_path: Path) -> None:
    spec = {"command": ["python", "argv.py", "{a}", "pre-{b}-{a}"]}
    tool = make_crew(tmp_path, {"echo": spec}, {"argv.py": ARGV_PY})["echo"]
    assert tool.parameters == {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "required": ["a", "b"],
        "additionalProperties": False,
    }
    assert json.loads(run(tool, a="1", b="2").output) == ["1", "pre-2-1"]
    assert not run(tool, a=1, b="2").ok


def test_format_spec_in_placeholder(tmp_path: Path) -> None:
    spec = {"command": ["python", "argv.py", "{n:03d}"], "parameters": {"n": {}}}
    tool = make_crew(tmp_path, {"echo": spec}, {"argv.py": ARGV_PY})["echo"]
    assert json.loads(run(tool, n=7).output) == ["007"]
    result = run(tool, n="x")
    assert not result.ok
    assert result.error == (
        "bad arguments: the command cannot be filled in: "
        "Unknown format code 'd' for object of type 'str'"
    )


def test_command_runs_in_the_crew_folder_with_empty_stdin(tmp_path: Path) -> None:
    script = "import os, sys\nprint(os.getcwd())\nprint(repr(sys.stdin.read()))\n"
    tool = make_crew(tmp_path, {"t": {"command": ["python", "t.py"]}}, {"t.py": script})["t"]
    assert run(tool).output.splitlines() == [str(tmp_path.resolve()), "''"]


def test_command_failure_reports_exit_code_and_last_stderr_lines(tmp_path: Path) -> None:
    script = "import sys\nprint('partial')\nfor i in range(5):\n    print(f'line {i}', file=sys.stderr)\nsys.exit(2)\n"
    tool = make_crew(tmp_path, {"t": {"command": ["python", "fail.py"]}}, {"fail.py": script})["t"]
    result = run(tool)
    assert not result.ok
    assert result.exit_code == 2
    assert result.error == "exit 2: line 2\nline 3\nline 4"
    assert result.output == "error: exit 2: line 2\nline 3\nline 4\npartial\n"


def test_command_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    spec = {"command": ["python", "spawn.py", "{pidfile}"], "timeout_s": 3}
    tool = make_crew(tmp_path, {"spawn": spec}, {"spawn.py": SPAWN_PY})["spawn"]
    started = time.monotonic()
    result = run(tool, pidfile=str(pidfile))
    assert time.monotonic() - started < 20
    assert result.timed_out
    assert result.error == "timed out after 3s"
    assert result.exit_code == -9
    child, grandchild = map(int, pidfile.read_text().split())
    assert wait_gone(child)
    assert wait_gone(grandchild)  # it held stdout open too: killing only the child would hang


def test_cancelling_a_command_kills_its_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    spec = {"command": ["python", "spawn.py", "{pidfile}"], "timeout_s": 120}
    tool = make_crew(tmp_path, {"spawn": spec}, {"spawn.py": SPAWN_PY})["spawn"]

    async def start_then_cancel() -> None:
        task = asyncio.create_task(tool.call({"pidfile": str(pidfile)}))
        for _ in range(400):
            if pidfile.exists():
                break
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(start_then_cancel())
    child, grandchild = map(int, pidfile.read_text().split())
    assert wait_gone(child)
    assert wait_gone(grandchild)


def test_huge_command_output_is_capped(tmp_path: Path) -> None:
    script = "import sys\nfor _ in range(100):\n    sys.stdout.write('y' * 50_000)\n"
    spec = {"command": ["python", "big.py"], "max_output_bytes": 1000}
    tool = make_crew(tmp_path, {"big": spec}, {"big.py": script})["big"]
    result = run(tool)
    assert result.ok
    assert result.truncated
    assert result.output == "y" * 1000 + "\n[output cut at 1000 bytes of 5000000]"


def test_program_gone_by_load_time_is_a_load_error(tmp_path: Path) -> None:
    (tmp_path / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (tmp_path / "run.sh").chmod(0o755)
    make_crew(tmp_path, {"t": {"command": ["./run.sh"]}}, {})
    crew = load_crew(tmp_path / "crew.yaml")
    assert run(load_tools(crew)["t"]).output == "hi\n"
    (tmp_path / "run.sh").unlink()
    with pytest.raises(ToolError, match=r"tools\.t: './run.sh' is not on PATH"):
        load_tools(crew)


# --- fingerprints -----------------------------------------------------------------------------


def fingerprint(tmp: Path, tools: dict[str, Any], files: dict[str, str], name: str) -> str:
    return make_crew(tmp, tools, files)[name].fingerprint()


def test_function_fingerprint(tmp_path: Path) -> None:
    tools = {"f": {"function": "tools.py:f", "timeout_s": 5}}
    source = "def f(x: str) -> str:\n    return x\n"
    base = fingerprint(tmp_path, tools, {"tools.py": source}, "f")
    assert len(base) == 64
    assert fingerprint(tmp_path, tools, {"tools.py": source}, "f") == base
    changed = "def f(x: str) -> str:\n    return x + '!'\n"
    assert fingerprint(tmp_path, tools, {"tools.py": changed}, "f") != base
    elsewhere = source + "\nLIMIT = 3\n"
    assert fingerprint(tmp_path, tools, {"tools.py": elsewhere}, "f") != base
    versioned = {"f": {**tools["f"], "version": "2"}}
    assert fingerprint(tmp_path, versioned, {"tools.py": source}, "f") != base
    slower = {"f": {**tools["f"], "timeout_s": 50}}
    assert fingerprint(tmp_path, slower, {"tools.py": source}, "f") == base


def test_command_fingerprint(tmp_path: Path) -> None:
    tools = {"c": {"command": ["python", "argv.py", "{q}"]}}
    base = fingerprint(tmp_path, tools, {"argv.py": ARGV_PY}, "c")
    assert fingerprint(tmp_path, tools, {}, "c") == base
    other = {"c": {"command": ["python", "argv.py", "--q", "{q}"]}}
    assert fingerprint(tmp_path, other, {}, "c") != base
    assert fingerprint(tmp_path, {"c": {**tools["c"], "version": "2"}}, {}, "c") != base
    assert fingerprint(tmp_path, {"c": {**tools["c"], "timeout_s": 9}}, {}, "c") == base
    # The script a fixed argument names is the tool's code.
    assert fingerprint(tmp_path, tools, {"argv.py": ARGV_PY + "# v2\n"}, "c") != base
