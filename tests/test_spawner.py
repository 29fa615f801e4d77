"""Command tools started by one reaper server per mas process (tools/spawner.py): a fork per
call, the same guarantee as a reaper per call. The guarantee's own tests (descendants die when
the command ends, times out, is cancelled, or mas is killed) are in test_timeouts.py; these
try to break what the server adds: calls at once, a server that dies, its environment."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from test_tools_runtime import gone, make_crew, wait_gone

from mas_cli.tools import Tool, ToolResult
from mas_cli.tools.command import CommandTool
from mas_cli.tools.spawner import _SERVER

ECHO_PY = """
import os, sys, time
time.sleep(float(sys.argv[2]))
print(sys.argv[1], os.getpid())
print("err", sys.argv[1], file=sys.stderr)
sys.exit(int(sys.argv[1]) % 3)
"""


def _echo(tmp_path: Path) -> Tool:
    spec = {"command": ["python", "echo.py", "{n}", "{pause}"], "timeout_s": 60}
    return make_crew(tmp_path, {"echo": spec}, {"echo.py": ECHO_PY})["echo"]


def _server_pid() -> int:
    proc = _SERVER._proc
    assert proc is not None, "no reaper server was started: the command ran some other way"
    return proc.pid


def test_forty_calls_at_once_each_get_their_own_output_and_code(tmp_path: Path) -> None:
    tool = _echo(tmp_path)

    async def all_at_once() -> list[ToolResult]:
        calls = [tool.call({"n": str(n), "pause": str(n % 4 / 10)}) for n in range(40)]
        return await asyncio.gather(*calls)

    results = asyncio.run(all_at_once())
    pids = set()
    for n, result in enumerate(results):
        assert result.exit_code == n % 3, result
        assert result.output.split()[0] == ("error:" if n % 3 else str(n)), result.output
        assert f"err {n}" in (result.error or "") or n % 3 == 0
        pids.add(result.output.split()[-1])
    assert len(pids) == 40  # forty processes, none of whose output went to another call
    assert not gone(_server_pid())  # one server served them all, and is still there


def test_a_server_killed_mid_call_ends_the_call_and_the_next_call_starts_another(
    tmp_path: Path,
) -> None:
    tool = _echo(tmp_path)
    asyncio.run(tool.call({"n": "0", "pause": "0"}))
    server = _server_pid()

    async def kill_during_call() -> ToolResult:
        call = asyncio.ensure_future(tool.call({"n": "0", "pause": "30"}))
        await asyncio.sleep(1.0)
        os.kill(server, signal.SIGKILL)
        return await asyncio.wait_for(call, 20)

    result = asyncio.run(kill_during_call())
    assert not result.ok  # the call's reaper got its death signal and ended the command
    assert result.exit_code == -signal.SIGKILL
    assert wait_gone(server)
    again = asyncio.run(tool.call({"n": "3", "pause": "0"}))
    assert (again.ok, again.output.split()[0]) == (True, "3")
    assert _server_pid() != server


def test_the_server_holds_no_secret_and_the_command_gets_exactly_its_environment(
    tmp_path: Path,
) -> None:
    os.environ["MAS_TEST_SECRET_NAME"] = "sk-must-not-leak-0123456789"
    try:
        os.environ["MAS_TEST_PASSED"] = "yes"
        spec = {"command": ["env", "-0"], "env": ["MAS_TEST_PASSED"]}
        tool = make_crew(tmp_path, {"env": spec}, {})["env"]
        result = asyncio.run(tool.call({}))
    finally:
        del os.environ["MAS_TEST_SECRET_NAME"], os.environ["MAS_TEST_PASSED"]
    assert result.ok, result.output
    got = dict(line.split("=", 1) for line in result.output.strip("\0").split("\0"))
    command = getattr(tool, "inner", tool)  # a crew with a secret wraps its tools in a scrub
    assert isinstance(command, CommandTool)
    assert got == dict(command.env)  # the allow-list and its `env:`, nothing the server added
    assert got["MAS_TEST_PASSED"] == "yes"
    server_env = Path(f"/proc/{_server_pid()}/environ").read_bytes()
    assert b"sk-must-not-leak" not in server_env
    assert server_env.strip(b"\0").split(b"\0") in ([b""], [b"LC_CTYPE=C.UTF-8"])


KILLED = """
import asyncio, sys
from pathlib import Path
from mas_cli.tools import load_tools
from mas_cli.spec.loader import load_crew
from mas_cli.tools.command import CommandTool
from mas_cli.tools.spawner import _SERVER

tool = load_tools(load_crew(Path(sys.argv[1])))["echo"]

async def main():
    call = asyncio.ensure_future(tool.call({"n": "0", "pause": "300"}))
    await asyncio.sleep(1.5)
    print(_SERVER._proc.pid, flush=True)
    await call

asyncio.run(main())
"""


def test_the_server_and_its_calls_die_when_mas_is_killed(tmp_path: Path) -> None:
    _echo(tmp_path)
    (tmp_path / "killed.py").write_text(textwrap.dedent(KILLED), encoding="utf-8")
    argv = [sys.executable, str(tmp_path / "killed.py"), str(tmp_path / "crew.yaml")]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as mas:
        assert mas.stdout is not None
        server = int(mas.stdout.readline())
        below = _below(server)
        assert len(below) >= 2  # the call's reaper and the command
        mas.kill()
        mas.wait(timeout=30)
    assert wait_gone(server)
    assert all(wait_gone(pid) for pid in below), "a call outlived mas"


def _below(root: int) -> list[int]:
    """Every process below root (from /proc), waiting until there is at least a command."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
        found, todo = [], [root]
        while todo:
            kids = children.get(todo.pop(), [])
            found += kids
            todo += kids
        if len(found) >= 2:
            return found
        time.sleep(0.05)
    return []
