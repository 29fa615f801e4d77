"""Timeouts and signals always work: nothing a crew author writes can stall the run's loop past a
timeout or a stop, and nothing a command tool starts outlives it.

What would hang for minutes without the fix runs in a subprocess under a generous bound, so a
regression fails the test instead of hanging the suite. Tools sleep 20-300 s against bounds of
a few seconds: nothing here races the clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from crewkit import events, of_type, run, write_crew
from test_cli_run import _start
from test_tools_runtime import gone, make_crew, wait_gone
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.spec.patterns import schema_validator
from mas_cli.tools import Tool, ToolResult

EVIL = "^(a+)+$"
EVIL_OR = "^(?:(a+)+$|a*!)"  # Python's re backtracks through the first branch, then matches
HOSTILE = "a" * 48 + "!"  # ~2^48 backtracking steps for Python's re; RE2 reads it once


def mas(*args: str, home: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAS_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "mas_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- 1. regular expressions in schemas run in linear time ------------------------------------

PATTERNS = f"""
    name: patterns
    limits: {{max_turns: 2}}
    state:
      code: {{type: string, pattern: "{EVIL}"}}
    tools:
      lookup:
        function: tools.py:lookup
        parameters: {{q: {{type: string, pattern: "{EVIL}"}}}}
    agents:
      a:
        role: A
        model: offline
        tools: [lookup]
        script:
          - tool_calls: [{{name: lookup, arguments: {{q: "{HOSTILE}"}}}}]
          - text: '{{"code": "{HOSTILE}", "{HOSTILE}": 1}}'
    tasks:
      - id: t
        agent: a
        prompt: Go.
        output_schema:
          type: object
          properties: {{code: {{type: string, pattern: "{EVIL_OR}"}}}}
          patternProperties: {{"{EVIL}": {{type: string}}}}
          additionalProperties: {{type: integer}}
        writes: {{code: code}}
"""
LOOKUP = 'def lookup(q: str) -> str:\n    return "found " + q\n'


def test_backtracking_patterns_in_every_schema_are_checked_in_linear_time(
    tmp_path: Path, clean_env: Path
) -> None:
    crew = write_crew(tmp_path / "c", PATTERNS, tools__py=LOOKUP)
    done = mas("run", str(crew), "-q", home=clean_env)  # minutes per check with Python's re
    assert done.returncode == 1, done.stderr
    log = next(clean_env.glob("runs/*/events.jsonl"))
    items = [json.loads(line) for line in log.read_text().splitlines()]
    (call,) = of_type(items, "tool_call")
    assert (call["status"], call["error"]) == (
        "error",
        f"bad arguments: q: '{HOSTILE}' does not match '{EVIL}'",
    )
    # The output passed its schema (EVIL_OR, and a key that matches no pattern is an integer);
    # the state schema then refused the value.
    (write,) = of_type(items, "state_write")
    assert (write["accepted"], write["reason"]) == (
        False,
        f"'{HOSTILE}' is not valid for 'code': '{HOSTILE}' does not match '{EVIL}'",
    )
    assert (items[-1]["type"], items[-1]["status"]) == ("run_finished", "failed")


def test_a_hostile_state_value_is_checked_in_linear_time(tmp_path: Path, clean_env: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"code": {"value": HOSTILE, "version": 1, "writer": "t"}}))
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"code": {"type": "string", "pattern": EVIL}}))
    done = mas("triage", "state", str(state), "--schema", str(schema), "--json", home=clean_env)
    assert done.returncode == 1, done.stderr
    assert "does not match" in done.stdout


@pytest.mark.parametrize(
    ("schema", "value", "valid"),
    [
        ({"type": "string", "pattern": "^[a-z]+-\\d{3}$"}, "tx-123", True),
        ({"type": "string", "pattern": "^[a-z]+-\\d{3}$"}, "tx-12", False),
        ({"type": "string", "pattern": "b"}, "abc", True),  # searched, not anchored
        ({"type": "string", "pattern": "^[à-ÿ]+$"}, "éè", True),
        ({"type": "string", "pattern": "^\\u0041\\u00e9$"}, "Aé", True),  # ECMA's \u escapes
        ({"type": "string", "pattern": "^\\\\u0041$"}, "\\u0041", True),  # an escaped backslash
        ({"type": "string", "pattern": "^\\\\u0041$"}, "A", False),
        ({"type": "integer", "pattern": "x"}, 5, True),  # pattern applies to strings only
        ({"patternProperties": {"^x-": {"type": "integer"}}}, {"x-a": 1, "y": "s"}, True),
        ({"patternProperties": {"^x-": {"type": "integer"}}}, {"x-a": "s"}, False),
        (
            {
                "properties": {"a": {}},
                "patternProperties": {"^x-": {}},
                "additionalProperties": False,
            },
            {"a": 1, "x-b": 2},
            True,
        ),
        (
            {
                "properties": {"a": {}},
                "patternProperties": {"^x-": {}},
                "additionalProperties": False,
            },
            {"a": 1, "y": 2},
            False,
        ),
        (
            {"additionalProperties": {"type": "integer"}, "properties": {"a": {}}},
            {"a": "s", "b": 1},
            True,
        ),
        ({"additionalProperties": {"type": "integer"}}, {"b": "s"}, False),
    ],
)
def test_re2_validation_agrees_with_jsonschema(
    schema: dict[str, Any], value: Any, valid: bool
) -> None:
    from jsonschema.validators import validator_for

    ours = [e.message for e in schema_validator(schema).iter_errors(value)]
    theirs = [e.message for e in validator_for(schema)(schema).iter_errors(value)]
    assert (not ours) is valid
    assert ours == theirs


UNSUPPORTED = """
    name: unsupported
    state:
      ref: {type: string, pattern: '(a)\\1'}
    tools:
      lookup:
        function: tools.py:lookup
        parameters: {q: {type: string, pattern: 'x(?=y)'}}
    agents:
      a: {role: A, model: offline, tools: [lookup]}
    tasks:
      - id: t
        agent: a
        prompt: Go.
        output_schema:
          type: object
          patternProperties: {'(?<!a)b': {}}
"""


def test_validate_reports_patterns_re2_cannot_check_with_file_and_line(tmp_path: Path) -> None:
    crew = write_crew(tmp_path, UNSUPPORTED, tools__py=LOOKUP)
    result = CliRunner().invoke(app, ["validate", str(crew)])
    assert result.exit_code == 2
    out = result.stderr + result.stdout
    assert f"{crew}:4:" in out
    assert (
        "state.ref.pattern: pattern '(a)\\\\1' is not supported: invalid escape sequence: \\1"
        in out
    )
    assert f"{crew}:8:" in out
    assert "tools.lookup.parameters.q.pattern: pattern 'x(?=y)' is not supported" in out
    assert f"{crew}:17:" in out
    assert "pattern '(?<!a)b' is not supported" in out
    assert "no backreferences or lookaround" in out
    assert "Traceback" not in out


def test_a_pattern_re2_cannot_compile_fails_the_value_with_the_reason() -> None:
    errors = [e.message for e in schema_validator({"pattern": "(a)\\1"}).iter_errors("aa")]
    assert errors == [
        "pattern '(a)\\\\1' cannot be checked: invalid escape sequence: \\1 (RE2 checks patterns "
        "in linear time and has no backreferences or lookaround: rewrite the pattern without them)"
    ]


def test_unevaluated_properties_with_pattern_properties_is_refused() -> None:
    # jsonschema would match these patterns with Python's re, outside our keywords.
    schema = {"patternProperties": {EVIL: {}}, "unevaluatedProperties": False}
    errors = [e.message for e in schema_validator(schema).iter_errors({HOSTILE: 1})]
    assert errors == [
        "unevaluatedProperties together with patternProperties cannot be checked in bounded time "
        "(use additionalProperties instead)"
    ]
    crew = {"type": "object", "properties": {"a": {"unevaluatedProperties": False}}}
    assert [e.message for e in schema_validator(crew).iter_errors({"a": {"b": 1}})] == [
        "Unevaluated properties are not allowed ('b' was unexpected)"
    ]


# --- 2. user code never runs on the run's loop -----------------------------------------------

BLOCKING_PY = """
import asyncio, threading, time
from pathlib import Path


async def nap(seconds: float = 20) -> str:
    time.sleep(seconds)  # blocks whatever loop runs it
    return "late"


def nap_sync(seconds: float = 20) -> str:
    time.sleep(seconds)
    return "late"


async def polite(marker: str) -> str:
    try:
        await asyncio.sleep(60)
    finally:
        Path(marker).write_text("cancelled")
    return "late"


async def where() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


async def fails() -> str:
    await asyncio.sleep(0)
    raise KeyError("missing")
"""


@pytest.fixture
def blocking(tmp_path: Path) -> dict[str, Tool]:
    tools = {
        name: {"function": f"tools.py:{name}", "timeout_s": 1}
        for name in ("nap", "polite", "where", "fails")
    }
    return make_crew(tmp_path, tools, {"tools.py": BLOCKING_PY})


def _call(tool: Tool, **arguments: Any) -> tuple[ToolResult, float]:
    started = time.monotonic()
    result = asyncio.run(tool.call(arguments))
    return result, time.monotonic() - started


def test_an_async_tool_that_blocks_times_out(blocking: dict[str, Tool]) -> None:
    result, took = _call(blocking["nap"])
    assert took < 10  # the tool sleeps 20 s
    assert (result.ok, result.timed_out, result.error) == (False, True, "timed out after 1s")


def test_the_loop_runs_while_an_async_tool_blocks(blocking: dict[str, Tool]) -> None:
    async def race() -> tuple[ToolResult, int]:
        ticks = 0
        call = asyncio.ensure_future(blocking["nap"].call({}))
        while not call.done():
            await asyncio.sleep(0.01)
            ticks += 1
        return await call, ticks

    result, ticks = asyncio.run(race())
    assert result.timed_out
    assert ticks > 5  # the loop kept turning during the 1 s the tool blocked


def test_async_tools_run_off_the_main_thread_and_keep_their_tracebacks(
    blocking: dict[str, Tool],
) -> None:
    result, _ = _call(blocking["where"])
    assert result.ok
    assert result.output.startswith("mas-tool-where")
    result, _ = _call(blocking["fails"])
    assert result.error == "KeyError: 'missing'"
    assert result.traceback is not None
    assert "in fails" in result.traceback
    assert "mas_cli" not in result.traceback
    assert "asyncio" not in result.traceback


def test_an_abandoned_async_tool_is_cancelled_on_its_own_loop(
    blocking: dict[str, Tool], tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    result, _ = _call(blocking["polite"], marker=str(marker))
    assert result.timed_out
    deadline = time.monotonic() + 10
    while not _says(marker, "cancelled") and time.monotonic() < deadline:
        time.sleep(0.05)  # the exists() moment is before the text is written: wait for the text
    assert marker.read_text() == "cancelled"


def _says(path: Path, text: str) -> bool:
    return path.exists() and path.read_text() == text


NAPPER = """
    name: napper
    tools:
      nap: {function: tools.py:nap, timeout_s: 1}
    agents:
      a:
        role: A
        model: offline
        tools: [nap]
        script:
          - tool_calls: [{name: nap}]
          - text: carried on
    tasks: [{id: t, agent: a, prompt: Nap.}]
"""


def test_a_blocking_async_tool_is_logged_timeout_and_the_run_goes_on(
    tmp_path: Path, clean_env: Path
) -> None:
    result = run(write_crew(tmp_path / "c", NAPPER, tools__py=BLOCKING_PY), clean_env)
    assert result.status == "ok"
    assert result.tasks["t"].output == "carried on"
    (call,) = of_type(events(result), "tool_call")
    assert (call["status"], call["error"]) == ("timeout", "timed out after 1s")
    assert call["latency_s"] < 10


# --- 3. a stop is honoured within seconds, whatever the tool does ----------------------------

ESCAPE_PY = """
import os, subprocess, sys, time

pidfile = sys.argv[1]
daemon = subprocess.Popen(["sleep", "300"], start_new_session=True)  # setsid sleep 300 &
read, write = os.pipe()
if os.fork() == 0:  # double fork: the grandchild is orphaned, in a session of its own
    os.setsid()
    if os.fork() == 0:
        os.write(write, str(os.getpid()).encode())
        time.sleep(300)
    os._exit(0)
os.close(write)
grandchild = os.read(read, 32).decode()
with open(pidfile + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {daemon.pid} {grandchild}")
os.replace(pidfile + ".tmp", pidfile)
time.sleep(float(sys.argv[2]))
"""

STOPPABLE = """
    name: stoppable
    tools:
      nap: {function: tools.py:nap, timeout_s: 120}
      nap_sync: {function: tools.py:nap_sync, timeout_s: 120}
      escape: {command: [python, escape.py, "{pidfile}", "60"], timeout_s: 120}
    agents:
      a:
        role: A
        model: offline
        tools: [TOOL]
        script:
          - tool_calls: [{name: TOOL, arguments: ARGS}]
          - text: done
    tasks: [{id: t, agent: a, prompt: Wait.}]
"""


def _wait_for_tool(home: Path, tool: str) -> Path:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = list(home.glob("runs/*/events.jsonl"))
        if logs and f'"tool_calls":["{tool}"]' in logs[0].read_text():
            return logs[0]
        time.sleep(0.05)
    raise AssertionError("the run never reached its tool call")


def _stoppable(folder: Path, tool: str) -> tuple[Path, Path]:
    pidfile = folder / "pids"
    args = json.dumps({"pidfile": str(pidfile)} if tool == "escape" else {"seconds": 60})
    crew = STOPPABLE.replace("TOOL", tool).replace("ARGS", args)
    return write_crew(folder, crew, tools__py=BLOCKING_PY, escape__py=ESCAPE_PY), pidfile


def _pids(pidfile: Path) -> list[int]:
    deadline = time.monotonic() + 30
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return [int(p) for p in pidfile.read_text().split()]


@pytest.mark.parametrize(
    ("tool", "sig"),
    [
        ("nap", signal.SIGINT),
        ("nap_sync", signal.SIGTERM),
        ("escape", signal.SIGTERM),
        ("nap_sync", signal.SIGHUP),  # the terminal or ssh session went away
    ],
    ids=["async-SIGINT", "sync-SIGTERM", "command-SIGTERM", "sync-SIGHUP"],
)
def test_a_stop_is_honoured_within_seconds_while_a_tool_blocks(
    tmp_path: Path, clean_env: Path, tool: str, sig: signal.Signals
) -> None:
    crew, pidfile = _stoppable(tmp_path / "c", tool)
    process = _start(crew, clean_env)
    log = _wait_for_tool(clean_env, tool)
    pids = _pids(pidfile) if tool == "escape" else []
    time.sleep(0.3)  # let the tool start blocking
    sent = time.monotonic()
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)  # the tool blocks for 60 s
    assert time.monotonic() - sent < 5
    assert process.returncode == 130, stderr
    last = json.loads(log.read_text().splitlines()[-1])
    assert (last["type"], last["status"], last["reason"]) == (
        "run_finished",
        "interrupted",
        f"interrupted by {sig.name}",
    )
    output = json.loads((log.parent / "output.json").read_text())
    assert output["tasks"]["t"]["status"] == "cancelled"
    assert all(wait_gone(pid) for pid in pids), "a descendant of the command outlived the stop"


# --- 4. nothing a command tool starts outlives it ---------------------------------------------


@pytest.fixture
def escape(tmp_path: Path) -> dict[str, Tool]:
    spec = {"command": ["python", "escape.py", "{pidfile}", "{seconds}"], "timeout_s": 2}
    return make_crew(tmp_path, {"escape": spec}, {"escape.py": ESCAPE_PY})


def test_escaped_descendants_die_when_the_command_times_out(
    escape: dict[str, Tool], tmp_path: Path
) -> None:
    pidfile = tmp_path / "pids"
    result, took = _call(escape["escape"], pidfile=str(pidfile), seconds="60")
    assert result.timed_out
    assert result.exit_code == -9
    assert took < 20
    tool, daemon, grandchild = _pids(pidfile)
    assert wait_gone(tool)
    assert wait_gone(daemon), "setsid sleep 300 & outlived the timeout"
    assert wait_gone(grandchild), "the double-forked grandchild outlived the timeout"


def test_escaped_descendants_die_when_the_command_ends(
    escape: dict[str, Tool], tmp_path: Path
) -> None:
    pidfile = tmp_path / "pids"
    result, _ = _call(escape["escape"], pidfile=str(pidfile), seconds="0")
    # Without the reaper the daemon holds stdout open: the call would end as a timeout.
    assert (result.ok, result.exit_code, result.timed_out) == (True, 0, False)
    assert all(wait_gone(pid) for pid in _pids(pidfile))


def test_escaped_descendants_die_when_the_call_is_cancelled(
    escape: dict[str, Tool], tmp_path: Path
) -> None:
    pidfile = tmp_path / "pids"

    async def start_then_cancel() -> None:
        task = asyncio.ensure_future(
            escape["escape"].call({"pidfile": str(pidfile), "seconds": "60"})
        )
        while not pidfile.exists():
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(start_then_cancel(), 30))
    assert all(wait_gone(pid) for pid in _pids(pidfile))


def test_escaped_descendants_die_when_mas_is_killed(tmp_path: Path, clean_env: Path) -> None:
    crew, pidfile = _stoppable(tmp_path / "c", "escape")
    process = _start(crew, clean_env)
    pids = _pids(pidfile)
    assert not any(gone(pid) for pid in pids)
    process.kill()  # SIGKILL: mas cannot clean up; the reaper's parent-death signal does
    process.communicate(timeout=30)
    assert all(wait_gone(pid) for pid in pids)


def test_a_command_gone_after_loading_is_an_error_result(tmp_path: Path) -> None:
    script = tmp_path / "prog.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    tool = make_crew(tmp_path, {"prog": {"command": ["./prog.sh"]}}, {})["prog"]
    script.unlink()
    result, _ = _call(tool)
    assert not result.ok
    assert result.error is not None
    assert "cannot start" in result.error
    assert "No such file or directory" in result.error


SHARED = """
    name: shared
    agents:
      a: {role: A, model: offline}
    tasks:
      - {id: t1, agent: a, prompt: Go., output_schema: {type: string, pattern: '(a)\\1'}}
      - {id: t2, agent: a, prompt: Go., output_schema: {type: string, pattern: '(a)\\1'}}
"""


def test_an_unsupported_pattern_is_reported_in_every_schema_that_shares_it(tmp_path: Path) -> None:
    crew = write_crew(tmp_path, SHARED)
    result = CliRunner().invoke(app, ["validate", str(crew)])
    assert result.exit_code == 2
    out = result.stderr + result.stdout
    assert f"{crew}:6:" in out
    assert f"{crew}:7:" in out
