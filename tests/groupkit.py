"""Signals as a terminal sends them: to the whole process group of a command started in a
session of its own, so every child `mas` started gets the same signal at the same moment.
And what is left afterwards: every live process whose command line or working directory names
the test's folder, or that is still in the command's session."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def start(args: list[str], cwd: Path, **env: str) -> subprocess.Popen[bytes]:
    """`mas ARGS` in `cwd`, a session (and process group) of its own, home in cwd/.mas."""
    return subprocess.Popen(
        [sys.executable, "-m", "mas_cli", *args],
        cwd=cwd,
        env={**os.environ, "MAS_HOME": str(cwd / ".mas"), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def signal_group(proc: subprocess.Popen[bytes], sig: int, timeout: float = 60) -> str:
    """Send `sig` to the command's whole group; its stderr once it ended (killed, and the test
    failed, when it has not within `timeout` s)."""
    os.killpg(proc.pid, sig)
    return finish(proc, timeout)


def finish(proc: subprocess.Popen[bytes], timeout: float = 60) -> str:
    """The command's stderr once it ended; a hang is killed and fails the test."""
    try:
        _out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with_all(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"the command did not end within {timeout} s") from None
    return err.decode("utf-8", "replace")


def with_all(session: int, sig: int) -> None:
    """Send `sig` to every process still in `session` (cleanup after a failed test)."""
    for pid, _ in _processes(lambda _pid, _argv, _cwd, sid: sid == session):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def left_behind(folder: Path, session: int | None, wait: float = 10) -> list[str]:
    """The processes of the test still alive after up to `wait` s (an empty list: none): those
    naming `folder` in their command line or working directory, and those still in `session`
    (a command's own, started by `start`; never the test's: None)."""
    mine = str(folder)

    def ours(pid: int, argv: str, cwd: str, sid: int) -> bool:
        in_session = session is not None and (sid == session or _reaped_for(session, argv))
        return pid != os.getpid() and (mine in argv or cwd.startswith(mine) or in_session)

    deadline = time.monotonic() + wait
    while (found := _processes(ours)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid, _ in found:  # leave nothing to the next test either
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return [f"{pid}: {argv}" for pid, argv in found]


def _reaped_for(pid: int, argv: str) -> bool:
    """A reaper mas `pid` started (it names its parent): they run in a session of their own."""
    return f"reaper.py {pid} -- " in argv


def started_for(pid: int, program: str) -> bool:
    """Whether a reaper of mas `pid` runs `program` (an MCP server, a command tool)."""
    return bool(_processes(lambda _p, argv, _c, _s: _reaped_for(pid, argv) and program in argv))


def _processes(pick: Callable[[int, str, str, int], bool]) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cwd = str((entry / "cwd").readlink())
        except OSError:
            continue
        if fields[0] != "Z" and pick(int(entry.name), argv, cwd, int(fields[3])):
            found.append((int(entry.name), argv))
    return found


def wait_until(ready: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what}")
        time.sleep(0.02)


def logs(home: Path) -> list[list[dict[str, Any]]]:
    """Every run log under `home`, each read whole as JSONL (a bad line fails the test)."""
    return [
        [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
        for log in sorted(home.glob("runs/*/events.jsonl"))
    ]


def logged(home: Path, text: str) -> bool:
    """Some run log under `home` holds `text` (as written: no spaces after JSON's `:` or `,`)."""
    return any(text in log.read_text(encoding="utf-8") for log in home.glob("runs/*/events.jsonl"))


UNSEEN = ("Traceback", "Exception ignored", "Task was destroyed", "Fatal Python error")


def quiet(err: str) -> bool:
    """Nothing a user should never see: no traceback, no "Exception ignored", no asyncio task
    left pending, no crash of the interpreter."""
    return not any(words in err for words in UNSEEN)
