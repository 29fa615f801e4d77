"""One call of a deterministic tool per key at a time, so the same search runs once.

While a caller runs a tool for a key, another caller of the same key (a parallel task, another
item of the batch, another `mas` process on the same cache) waits for it and then reads its
entry, instead of running the tool again beside it. In a process, a set of the keys held;
across processes, a POSIX record lock on one byte of `cache.db-lock`, the byte chosen by the
key (two keys that share a byte only wait for each other; two claims of one byte in a process
share the process's lock, so the first release lets another process in: a call made twice,
never a wrong entry).

A caller waits at most the tool's `timeout_s`, then runs the tool itself in what is left of it
(tools/cache.py): timeout_s bounds the whole call, waiting included, so a holder that hangs or
dies never stalls a run past it (the kernel drops a dead process's locks). Nothing here raises
for the lock's sake: a lock file that cannot be made (a read-only folder, a link in its place)
means no waiting across processes.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

if sys.platform != "win32":  # no record locks there: callers wait for each other in-process only
    import fcntl

LOCK_FILE = "cache.db-lock"
_FIRST_PAUSE_S, _LONGEST_PAUSE_S = 0.005, 0.1


class Claim:
    """A key held by this caller until `release()`. Another caller may have held it first and
    stored its entry meanwhile: look the key up again before running the tool."""

    def __init__(
        self,
        claims: Claims | None,
        digest: str,
        offset: int | None,
        *,
        waited: bool = False,
        gave_up: bool = False,
    ) -> None:
        self._claims, self._digest, self._offset = claims, digest, offset
        self.waited = waited
        """Whether another caller held the key first (this one paused for it at least once)."""
        self.gave_up = gave_up
        """Whether the wait ran out with the key still held by another caller."""

    def release(self) -> None:
        """Let the next caller of the key in (once)."""
        if self._claims is not None:
            self._claims.release(self._digest, self._offset)
            self._claims = None


class Claims:
    """The claims of one cache folder, for callers in this process and others."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fd: int | None = None
        self._opened = False
        self._held: set[str] = set()
        """The keys held by callers in this process. Waiters poll (no lock to cancel half-way:
        a stop or a timeout lands only in a sleep)."""

    async def acquire(self, digest: str, wait_s: float) -> Claim:
        """Hold `digest`'s key, waiting at most `wait_s` for another caller to let it go."""
        start = time.monotonic()
        deadline = start + wait_s
        if not await _until(lambda: digest not in self._held, deadline):
            return Claim(None, digest, None, waited=True, gave_up=True)
        self._held.add(digest)
        try:
            offset, held = await self._lock_across(digest, deadline)
        except BaseException:  # the run is stopping
            self._held.discard(digest)
            raise
        paused = time.monotonic() - start >= _FIRST_PAUSE_S  # no holder: no pause at all
        return Claim(self, digest, offset, waited=paused, gave_up=held)

    def release(self, digest: str, offset: int | None) -> None:
        """Let go of the key's byte and its hold in this process."""
        if offset is not None and self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, offset, os.SEEK_SET)
        self._held.discard(digest)

    def close(self) -> None:
        """Close the lock file (every byte this process holds in it is let go)."""
        if self._fd is not None:
            os.close(self._fd)
        self._fd, self._opened = None, False

    async def _lock_across(self, digest: str, deadline: float) -> tuple[int | None, bool]:
        """The byte locked for the key (None when it is not), and whether another process
        still held it at the deadline (no lock file: nothing to wait for)."""
        fd = self._file()
        if fd is None:
            return None, False
        offset = int(digest[:10], 16)
        if await _until(lambda: _locked(fd, offset), deadline):
            return offset, False
        return None, True

    def _file(self) -> int | None:
        if not self._opened and sys.platform != "win32":
            self._opened = True
            flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            with contextlib.suppress(OSError):
                self._fd = os.open(self.directory / LOCK_FILE, flags, 0o600)
        return self._fd


def _locked(fd: int, offset: int) -> bool:
    """Lock one byte without waiting; False while another process holds it. A file system
    without record locks counts as locked: nothing to wait for."""
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset, os.SEEK_SET)
    except (BlockingIOError, PermissionError):
        return False
    except OSError:
        return True
    return True


async def _until(done: Callable[[], bool], deadline: float) -> bool:
    """Poll `done` with growing pauses until it is true (True) or the deadline passes (False)."""
    import asyncio  # here: `mas cache stats` imports this module and runs no event loop

    pause = _FIRST_PAUSE_S
    while not done():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        await asyncio.sleep(min(pause, left))  # the last pause ends at the deadline, not before
        pause = min(pause * 2, _LONGEST_PAUSE_S)
    return True
