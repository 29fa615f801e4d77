"""Run one command tool so that nothing it starts outlives it (Linux).

`mas` starts this file as a script (`python -I -S reaper.py PARENT_PID -- argv...`) in place of
the command. It makes itself a child subreaper, so every descendant of the command that is
orphaned (a double fork, a `setsid cmd &`) is re-parented to it instead of to init: leaving
the process group or the session no longer escapes. When the command exits, when `mas` sends
SIGTERM (a timeout, a stop, Ctrl-C), or when `mas` dies (PR_SET_PDEATHSIG), it kills every
process left below it, reaps them, and ends with the command's own status.

Standard library only, and nothing from mas_cli, pathlib or contextlib: it starts in ~30 ms
with -I -S, most of it the interpreter and ctypes.

`python -I -S reaper.py PARENT_PID --serve FD` is the same reaper as a server, started once per
`mas` process (tools/spawner.py): on the SOCK_SEQPACKET socket FD, each message carries three
file descriptors (a socket for the call, the command's stdout and stderr). The server forks;
the fork does for that one call what the script does (a subreaper with a death signal, here on
the server), reading the call's argv, environment and folder from the call's socket, sending
its own pid first and the command's exit code last. A fork of this small process costs about
a millisecond where a new interpreter costs ~30 ms of CPU. The server is a child subreaper too,
with a death signal on `mas`: when `mas` dies or closes the socket, it kills everything below
it, so the guarantee is the script's.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from collections.abc import Mapping

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
STOPS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
DEFAULTS = (*STOPS, signal.SIGPIPE, signal.SIGXFSZ)
"""Signals the command starts with at their default action (Python ignores the last two)."""


class _Stop(Exception):
    """mas asked for the tool to end (or died)."""


def main(argv: list[str]) -> int:
    """Run argv (after `PARENT_PID --`) to its end, then end everything it left behind; or,
    given `PARENT_PID --serve FD`, serve calls until the parent goes."""
    if argv[1] == "--serve":
        return serve(int(argv[0]), int(argv[2]))
    parent, command = int(argv[0]), argv[2:]
    if not _armed(parent):
        return 1
    code = _run_command(command, os.environ)
    if code is None:
        return 127
    return _exit_as(code)


def _armed(parent: int) -> bool:
    """Become a child subreaper that gets SIGTERM when `parent` dies; False if it has died."""
    libc = _libc()
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    return os.getppid() == parent  # else it died before the death signal was armed


_LIBC: list[ctypes.CDLL] = []


def _libc() -> ctypes.CDLL:
    """The C library, loaded once (a server's forks find it loaded)."""
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def _run_command(command: list[str], env: Mapping[str, str]) -> int | None:
    """Spawn the command, wait for it, end what it left behind; its wait status (None: it
    could not be started, and stderr says why)."""
    _stop_on(STOPS)  # before the spawn: from here on, a stop always cleans up
    try:
        status = _wait_for(os.posix_spawnp(command[0], command, env, setsigdef=DEFAULTS))
    except _Stop:
        status = signal.SIGKILL  # a raw wait status: killed by SIGKILL, as a timeout reports
    except OSError as exc:  # the command could not be started
        sys.stderr.write(f"cannot start {command[0]}: {exc.strerror}\n")
        return None
    _end_descendants()
    return status


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


# --- the server: one per mas process, a fork per call ----------------------------------------


def serve(parent: int, control_fd: int) -> int:
    """Fork a reaper for each call that arrives on the control socket, until `parent` dies or
    closes the socket; then kill everything left below."""
    import json  # noqa: F401 (imported once here, not in every fork)
    import socket  # here: the script's path does not pay for it

    if not _armed(parent):
        return 1
    control = socket.socket(fileno=control_fd)
    control.set_inheritable(False)
    signal.signal(signal.SIGCHLD, _reap_calls)
    _stop_on(STOPS)
    try:
        while True:
            message, fds, _, _ = socket.recv_fds(control, 16, 3, socket.MSG_CMSG_CLOEXEC)
            if not message:  # mas closed its end: it is done, or gone
                break
            _fork_call(control, fds)
    except _Stop:
        pass
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _end_descendants()
    return 0


def _reap_calls(_signum: int, _frame: object) -> None:
    """SIGCHLD: reap the forks that ended (each told mas its command's code itself)."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _fork_call(control: object, fds: list[int]) -> None:
    if len(fds) != 3:  # not a call: nothing to answer on
        for fd in fds:
            os.close(fd)
        return
    server = os.getpid()
    if os.fork() == 0:
        code = 1
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # its own children: waited for below
            control.close()  # type: ignore[attr-defined]
            code = _call(server, *fds)
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)


def _call(server: int, conn_fd: int, out_fd: int, err_fd: int) -> int:
    """One call in the fork: its own session, armed on the server; the command's exit code
    goes back to mas on the call's socket (after its pid, then the request read)."""
    import json
    import socket

    os.setsid()  # it leads its own group and session, as the script started by mas does
    if not _armed(server):
        return 1
    conn = socket.socket(fileno=conn_fd)
    conn.sendall(f"{os.getpid()}\n".encode())
    request = json.loads(_read_request(conn))
    null = os.open(os.devnull, os.O_RDONLY)
    for fd, target in ((null, 0), (out_fd, 1), (err_fd, 2)):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])  # the command's (allow-listed) environment: PATH too
    try:
        os.chdir(request["cwd"])
    except OSError as exc:
        sys.stderr.write(f"cannot start {request['argv'][0]}: {exc.strerror}\n")
        return _tell(conn, 127)
    status = _run_command(request["argv"], os.environ)
    return _tell(conn, 127 if status is None else os.waitstatus_to_exitcode(status))


def _read_request(conn: object) -> bytes:
    """A 4-byte big-endian length, then that many bytes of JSON."""
    data = b""
    while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
        chunk = conn.recv(65536)  # type: ignore[attr-defined]
        if not chunk:
            raise _Stop  # mas went away before it asked
        data += chunk
    return data[4:]


def _tell(conn: object, code: int) -> int:
    try:  # noqa: SIM105 (contextlib's import costs ~10 ms)
        conn.sendall(f"{code}\n".encode())  # type: ignore[attr-defined]
    except OSError:  # mas went away: nobody to tell
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
