"""Command tools started through one long-lived reaper per `mas` process (Linux).

The reaper script (reaper.py) once per call costs a new interpreter (~35 ms of CPU, as much as
a small Python tool itself); run as a server (`reaper.py PID --serve FD`), it forks a reaper
for each call instead. The guarantee is the same: each call's reaper is a child subreaper in
its own session, with a death signal on the server, and the server has one on `mas`. Nothing a
command starts outlives its call, a stop, or `mas` itself.

`spawn` returns a `Spawned`, which has the part of asyncio.subprocess.Process that command.py
uses (`stdout`, `stderr`, `pid`, `returncode`, `wait`, `send_signal`). Signals go through a
pidfd, opened while the call's reaper waits for its request, so they never reach a process
that merely took its pid. Where the server cannot be had (no pidfd, no reaper script, it
cannot start), `spawn` returns None and the caller starts the script per call as before.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

REAPER = Path(__file__).with_name("reaper.py") if sys.platform == "linux" else None
LOST = -signal.SIGKILL
"""The exit code of a call whose reaper ended without saying (only a SIGKILL does that)."""


class Spawned:
    """A command started by the server: its output pipes, its reaper's pid and exit code."""

    def __init__(self, pid: int, pidfd: int, call: _Call) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdout: asyncio.StreamReader | None = call.readers[0]
        self.stderr: asyncio.StreamReader | None = call.readers[1]
        self._pidfd = pidfd
        self._call = call

    async def wait(self) -> int:
        """The command's exit code (negative: the signal that ended it), once it has ended."""
        if self.returncode is None:
            reader = self._call.reader
            try:
                line = await reader.readline() if reader is not None else b""
                code = int(line) if line.endswith(b"\n") else LOST
            except (OSError, ValueError):
                code = LOST
            self.returncode = code
            self._close_pidfd()
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """Signal the call's reaper (SIGTERM: it ends the command and all it started).

        Raises:
            ProcessLookupError: it has ended.
        """
        if self._pidfd < 0:
            raise ProcessLookupError(self.pid)
        signal.pidfd_send_signal(self._pidfd, sig)

    def kill_group(self) -> None:
        """SIGKILL the reaper's process group (a reaper that did not end its command in time).

        Raises:
            ProcessLookupError: the group is gone.
        """
        if self.pid <= 0:
            raise ProcessLookupError(self.pid)
        os.killpg(self.pid, signal.SIGKILL)

    def close(self) -> None:
        """Close the pipes and the call's socket (after the output is read, or given up)."""
        self._close_pidfd()
        self._call.close()

    def _close_pidfd(self) -> None:
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1


class _Call:
    """What one call holds open: the pipes' transports and readers, the call's socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock: socket.socket | None = sock
        self.transports: list[asyncio.BaseTransport] = []
        self.readers: list[asyncio.StreamReader] = []
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self, pipes: tuple[int, int]) -> None:
        """Read both pipes and talk on the socket; the pipes' descriptors are ours from here."""
        loop = asyncio.get_running_loop()
        pending = list(pipes)
        try:
            while pending:
                reader = asyncio.StreamReader(limit=2**16, loop=loop)
                file = os.fdopen(pending.pop(0), "rb", 0)
                try:
                    transport, _ = await loop.connect_read_pipe(
                        lambda r=reader: asyncio.StreamReaderProtocol(r, loop=loop),  # type: ignore[misc]
                        file,
                    )
                except BaseException:
                    file.close()
                    raise
                self.transports.append(transport)
                self.readers.append(reader)
        except BaseException:
            for fd in pending:
                os.close(fd)
            raise
        assert self.sock is not None
        self.reader, self.writer = await asyncio.open_unix_connection(sock=self.sock)
        self.sock = None  # the writer owns it now

    def close(self) -> None:
        for transport in self.transports:
            transport.close()
        self.transports = []
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class _Server:
    """The reaper server of this process, started on first use and again if it died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._owner = 0  # the pid that started it: a forked child starts its own
        self.broken = REAPER is None or not hasattr(os, "pidfd_open")

    def send(self, fds: list[int]) -> bool:
        """Hand a call's three descriptors to the server; False if it cannot be had."""
        with self._lock:
            for _ in range(2):  # once more after a restart: the server may have just died
                control = self._ready()
                if control is None:
                    return False
                try:
                    socket.send_fds(control, [b"c"], fds)
                    return True
                except OSError:
                    self._stop()
            return False

    def _ready(self) -> socket.socket | None:
        if self.broken:
            return None
        alive = self._proc is not None and self._proc.poll() is None
        if alive and self._owner == os.getpid():
            return self._control
        self._stop()
        try:
            self._start()
        except OSError:
            self.broken = True
            return None
        return self._control

    def _start(self) -> None:
        assert REAPER is not None
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            argv = [sys.executable, "-I", "-S", str(REAPER), str(os.getpid()), "--serve"]
            self._proc = subprocess.Popen(
                [*argv, str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=[theirs.fileno()],
                env={},  # the server holds no secret; each call brings its command's env
                start_new_session=True,  # a Ctrl-C at the terminal is mas's to handle
            )
        except OSError:
            mine.close()
            raise
        finally:
            theirs.close()
        self._control, self._owner = mine, os.getpid()

    def stop(self) -> None:
        """End the server (at exit): it kills whatever is still running below it."""
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        """Close the control socket (the server then ends); reap it if it was ours."""
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._proc is not None and self._owner == os.getpid():
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None


_SERVER = _Server()
atexit.register(_SERVER.stop)


async def spawn(argv: list[str], env: Mapping[str, str], cwd: Path) -> Spawned | None:
    """Start argv through the server (stdin /dev/null, stdout and stderr piped to us); None
    when the server cannot be had. The caller closes what it returns.

    Raises:
        OSError: the pipes or sockets cannot be made (out of descriptors).
    """
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sent = _SERVER.send([theirs.fileno(), out_w, err_w])
    finally:
        for fd in (out_w, err_w):
            os.close(fd)
        theirs.close()
    if not sent:
        for fd in (out_r, err_r):
            os.close(fd)
        mine.close()
        return None
    call = _Call(mine)
    try:
        return await _started(
            call, (out_r, err_r), {"argv": argv, "env": dict(env), "cwd": str(cwd)}
        )
    except BaseException:  # cancelled: the call's reaper sees its socket close and ends
        call.close()
        raise


async def _started(call: _Call, pipes: tuple[int, int], request: dict[str, object]) -> Spawned:
    """Take the call's pid, open its pidfd, then send the request: until then its reaper waits,
    so the pidfd is the reaper's."""
    await call.open(pipes)
    assert call.reader is not None
    assert call.writer is not None
    try:
        pid = int(await call.reader.readline())
        pidfd = os.pidfd_open(pid)
    except (OSError, ValueError):  # it died at once: its code is lost
        return Spawned(0, -1, call)
    body = json.dumps(request).encode()
    call.writer.write(len(body).to_bytes(4, "big") + body)
    with contextlib.suppress(OSError):  # it is gone; wait() will say so
        await call.writer.drain()
    return Spawned(pid, pidfd, call)
