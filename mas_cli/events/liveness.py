"""Whether a run without `run_finished` is still running or was killed.

The process running a crew holds an exclusive lock on `run.lock` in the run's folder for as
long as it lives; the kernel releases it when the process ends, however it ends (kill -9
included). A reader that can take the lock knows nobody holds it: the run is not running.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

if sys.platform != "win32":  # Windows has no flock: there every unfinished run reads killed
    import fcntl

LOCK = "run.lock"


@contextmanager
def holding(run_dir: Path) -> Iterator[None]:
    """Hold the run's lock while the block runs (the folder must exist)."""
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform != "win32":
            with suppress(OSError):  # a file system without locks: readers will say killed
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)


def is_running(run_dir: Path) -> bool:
    """True when a live process holds the run's lock."""
    if sys.platform == "win32":
        return False
    try:
        fd = os.open(run_dir / LOCK, os.O_RDONLY)
    except OSError:
        return False  # no lock file: a run from before locks, or not a run
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False
