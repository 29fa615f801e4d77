"""Run one command tool so that nothing it starts outlives it (Linux).

`mas` starts this file as a script (`python -I -S reaper.py PARENT_PID -- argv...`) in place of
the command. It makes itself a child subreaper, so every descendant of the command that is
orphaned (a double fork, a `setsid cmd &`) is re-parented to it instead of to init: leaving
the process group or the session no longer escapes. When the command exits, when `mas` sends
SIGTERM (a timeout, a stop, Ctrl-C), or when `mas` dies (PR_SET_PDEATHSIG), it kills every
process left below it, reaps them, and ends with the command's own status.

Standard library only, and nothing from mas_cli, pathlib or contextlib: it starts in ~30 ms
with -I -S, most of it the interpreter and ctypes.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
STOPS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
DEFAULTS = (*STOPS, signal.SIGPIPE, signal.SIGXFSZ)
"""Signals the command starts with at their default action (Python ignores the last two)."""


class _Stop(Exception):
    """mas asked for the tool to end (or died)."""


def main(argv: list[str]) -> int:
    """Run argv (after `PARENT_PID --`) to its end, then end everything it left behind."""
    parent, command = int(argv[0]), argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # mas died before the death signal was armed
        return 1
    _stop_on(STOPS)  # before the spawn: from here on, a stop always cleans up
    try:
        status = _wait_for(os.posix_spawnp(command[0], command, os.environ, setsigdef=DEFAULTS))
    except _Stop:
        status = signal.SIGKILL  # a raw wait status: killed by SIGKILL, as a timeout reports
    except OSError as exc:  # the command could not be started
        sys.stderr.write(f"cannot start {command[0]}: {exc.strerror}\n")
        return 127
    _end_descendants()
    return _exit_as(status)


def _stop_on(signals: tuple[signal.Signals, ...]) -> None:
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        if not stopping:  # once: a second signal must not break the cleanup
            stopping.append(signum)
            raise _Stop

    for sig in signals:
        signal.signal(sig, stop)


def _wait_for(pid: int) -> int:
    """Reap children (adopted orphans too) until the command itself exits; its wait status."""
    while True:
        reaped, status = os.waitpid(-1, 0)
        if reaped == pid:
            return status


def _end_descendants() -> None:
    """SIGKILL every process below this one until none is left, reaping as they go."""
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):  # children left, none exited: kill them
                for pid in _descendants(os.getpid()):
                    _kill(pid)
                os.waitpid(-1, 0)
        except ChildProcessError:  # no child left: the usual case, without reading /proc
            return
        except _Stop:  # the stop came while the command was exiting: this is what it asks
            continue


def _kill(pid: int) -> None:
    try:  # noqa: SIM105 (contextlib's import costs ~10 ms on every tool call)
        os.kill(pid, signal.SIGKILL)
    except OSError:  # gone already, or not ours to kill (setuid): mas's killpg is the fallback
        pass


def _descendants(root: int) -> list[int]:
    """Every process below root, from /proc (zombies included: killing them is harmless)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):  # noqa: PTH208 (pathlib's import costs ~25 ms per call)
        ppid = _parent(name) if name.isdigit() else None
        if ppid is not None:
            children.setdefault(ppid, []).append(int(name))
    found, todo = [], [root]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def _parent(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as stat:  # noqa: PTH123
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):  # gone meanwhile
        return None


def _exit_as(status: int) -> int:
    """The exit code for the command's wait status; a signal death is repeated on ourselves."""
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        return code
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the command's core, if any, is enough
    if -code != signal.SIGKILL:  # SIGKILL's action cannot be set, and is the default
        signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
    return 128 - code  # not reached for a signal whose default is to end the process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
