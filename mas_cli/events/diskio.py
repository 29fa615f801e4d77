"""Files that stay whole on a full disk: append-only line files, and what to say when the disk
refuses a write; and a file a user names, read with a bound (`read_capped`).

A line is written with one `os.write` (and its continuation, if the kernel took only part);
when the disk refuses any of it, the file is cut back to where the line began, so it never
ends in half a line. After its first failure a LineFile writes only what it is forced to (the
run's last event), and keeps the failure for the run's verdict.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from pathlib import Path

from mas_cli.errors import UsageError

WORDS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (the file size limit was reached)",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOTDIR: "a file is in the way of a folder",
    errno.EEXIST: "a file is in the way of a folder",
}
FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def read_capped(path: Path, limit: int, flag: str, hint: str) -> bytes:
    """At most `limit` bytes of a file a user named (`/dev/zero` is endless).

    Raises:
        UsageError: it cannot be read, or is larger (`flag` names what reads it: `--args`).
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror})") from None
    if len(raw) > limit:
        raise UsageError(f"{path}: larger than {limit:,} bytes, the most {flag} reads", hint=hint)
    return raw


def why(exc: OSError) -> str:
    """What the disk said, in words a user acts on."""
    return WORDS.get(exc.errno or 0) or exc.strerror or type(exc).__name__


def fix(exc: OSError) -> str:
    """How to get past it."""
    if exc.errno in FULL:
        return "free some space, or move runs and the cache with --home DIR or MAS_HOME"
    return "give a writable folder with --home DIR or MAS_HOME, or fix its permissions"


def write_failure(path: Path, exc: OSError) -> str:
    """`cannot write .mas/runs/x/events.jsonl: no space left on device; free some space...`."""
    return f"cannot write {path}: {why(exc)}; {fix(exc)}"


def writable_folder(path: Path, what: str) -> Path:
    """The folder, created if needed, after checking that it can be written.

    Raises:
        UsageError: it cannot be made or written (read-only, a file in the way, full).
    """
    check_writable(path, what)
    try:
        if not path.is_dir():  # a stat: far cheaper than a mkdir that finds it (once per run)
            path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{what} {path}: {why(exc)}", hint=fix(exc)) from None
    return path


def check_writable(path: Path, what: str) -> None:
    """Whether a folder could be written (or made), without making it.

    Raises:
        UsageError: a file is in the way, or the nearest existing folder is read-only.
    """
    existing = next((p for p in (path, *path.parents) if p.exists() or p.is_symlink()), None)
    if existing is None:
        return
    problem = None
    if not existing.is_dir():
        problem = OSError(errno.ENOTDIR, "not a folder")
    elif not os.access(existing, os.W_OK):  # a read-only file system says so, even to root
        problem = OSError(errno.EROFS if _read_only(existing) else errno.EACCES, "cannot write")
    if problem is not None:
        where = path if existing == path else f"{path} ({existing})"
        raise UsageError(f"{what} {where}: {why(problem)}", hint=fix(problem))


def _read_only(path: Path) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


class LineFile:
    """An append-only file of whole lines. `append` never raises for the disk's sake."""

    def __init__(self, path: Path, on_failure: Callable[[str], None] | None = None) -> None:
        """Open (create) the file for appending.

        Raises:
            OSError: it cannot be opened.
        """
        self.path = path
        self.on_failure = on_failure
        self.failure: str | None = None
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._size = os.fstat(self._fd).st_size

    def append(self, line: str | bytes, *, force: bool = False) -> bool:
        """Write one line (with its newline; bytes are UTF-8 already); False when it was not
        written (nothing of it is left in the file). After a failure, only a forced line is
        tried."""
        if self.failure is not None and not force:
            return False
        data = line if isinstance(line, bytes) else line.encode("utf-8")
        try:
            done = 0
            while done < len(data):
                done += os.write(self._fd, data[done:])
        except OSError as exc:
            self._cut()
            self._failed(exc)
            return False
        self._size += len(data)
        return True

    def _cut(self) -> None:
        # If even this fails, nothing more can be done: readers skip a last line without "\n".
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, self._size)

    def _failed(self, exc: OSError) -> None:
        if self.failure is None:
            self.failure = write_failure(self.path, exc)
            if self.on_failure is not None:
                self.on_failure(self.failure)

    def close(self) -> None:
        """Close the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


RESERVE_BYTES = 64 * 1024


class Reserve:
    """Room held on the disk for a run's last words (run_finished, output.json, state.json):
    a file of zeros, deleted when a write fails or the run ends."""

    def __init__(self, path: Path, size: int = RESERVE_BYTES) -> None:
        self.path: Path | None = path
        try:
            path.write_bytes(bytes(size))
        except OSError:  # already full: there is nothing to hold back
            self.release()

    def release(self) -> None:
        """Give the room back; never raises."""
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)
            self.path = None


def refuse_overwriting(target: Path, inputs: list[Path], flag: str) -> None:
    """Refuse to write `target` when it is one of the files being read: opened for writing,
    it would be emptied before it is read (a run's log lost, and an export of nothing).

    Raises:
        UsageError: `target` is one of `inputs` (the same file, by any path or link).
    """
    for source in inputs:
        try:
            same = target.exists() and source.exists() and target.samefile(source)
        except OSError:
            same = False
        if same:
            raise UsageError(
                f"{flag} {target} is {source}, which this command reads: writing it would "
                "destroy it",
                hint=f"give {flag} another file",
            )
