"""Whether a run without `run_finished` is still running or was killed, and which process runs it.

The process running a crew holds an exclusive lock on `run.lock` in the run's folder for as
long as it lives, and writes its pid into the file; the kernel releases the lock when the
process ends, however it ends (kill -9 included). A reader that can take the lock knows nobody
holds it: the run is not running. A batch's process holds `batch.lock` in its folder the same
way, so two processes never run one batch at once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

if sys.platform != "win32":  # Windows has no flock: there every unfinished run reads killed
    import fcntl

LOCK = "run.lock"


class Held(Exception):
    """Another live process holds the lock; `pid` is the one it wrote, when it is known."""

    def __init__(self, pid: int | None) -> None:
        super().__init__(f"held by process {pid}" if pid else "held by another process")
        self.pid = pid


@contextmanager
def holding(run_dir: Path) -> Iterator[None]:
    """Hold the run's lock while the block runs (the folder must exist)."""
    with ExitStack() as stack:
        with suppress(Held):  # a run's folder is new: nobody else can hold its lock
            stack.enter_context(exclusive(run_dir / LOCK))
        yield


@contextmanager
def exclusive(lock: Path) -> Iterator[bool]:
    """Hold `lock` (a file, made when missing) for the block, this process's pid written in it;
    whether it is held (a file system without locks holds nothing, and the block runs).

    Raises:
        Held: another live process holds it (its pid, as it wrote it).
        OSError: the file cannot be opened.
    """
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        held = sys.platform != "win32" and _lock(fd)
        if held:
            with suppress(OSError):  # the pid is a courtesy to the message, never a failure
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield held
    finally:
        os.close(fd)


def _lock(fd: int) -> bool:
    """Take the lock without waiting; False on a file system without locks."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise Held(_pid_in(fd)) from None
    except OSError:
        return False
    return True


def _pid_in(fd: int) -> int | None:
    with suppress(OSError, ValueError):
        pid = int(os.pread(fd, 32, 0).decode("ascii").strip())
        return pid if pid > 0 else None
    return None


def is_running(run_dir: Path) -> bool:
    """True when a live process holds the run's lock."""
    return holder(run_dir) is not None


def holder(run_dir: Path) -> Held | None:
    """The live process that holds the run's lock (its pid, when it wrote one), or None."""
    return lock_holder(run_dir / LOCK)


def lock_holder(lock: Path) -> Held | None:
    """The live process that holds this lock file (its pid, when it wrote one), or None."""
    if sys.platform == "win32":
        return None
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return None  # no lock file: a run from before locks, or not a run
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return Held(_pid_in(fd))
    except OSError:
        return None
    finally:
        os.close(fd)
    return None
