"""Looking after the tool cache for `mas cache`: what it holds per tool, and clearing it.

Reads here do not count as uses, so looking at the cache never changes what it evicts.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from msgspec import Struct

from mas_cli.errors import UsageError
from mas_cli.events.diskio import check_writable
from mas_cli.tools.cache import DEFAULT_SIZE_LIMIT, LOCK_TIMEOUT_S, CacheEntry
from mas_cli.tools.cache_db import DB_FILE, OWN_FILES, CacheDb, Unusable, reset


class ToolEntries(Struct, frozen=True):
    """What one tool holds in the cache."""

    tool: str
    entries: int = 0
    bytes: int = 0


class CacheStats(Struct, frozen=True):
    """Entries and sizes per tool, and the whole cache's footprint on disk."""

    directory: str
    tools: tuple[ToolEntries, ...]
    disk_bytes: int
    size_limit: int


@contextlib.contextmanager
def opened(directory: Path) -> Iterator[CacheDb | None]:
    """The existing cache, or None when there is none yet.

    Raises:
        UsageError: the cache cannot be opened or read (corrupt, tampered, unreadable).
    """
    if not any(_present(directory / name) for name in OWN_FILES):
        yield None
        return
    odd = _not_files(directory)
    if odd:
        folder = "is a folder" in odd[0]  # mas never deletes a folder it did not make
        hint = f"remove it yourself: rm -r {directory}" if folder else "reset it: mas cache clear"
        raise UsageError(f"the tool cache {directory} cannot be used: {odd[0]}", hint=hint)
    try:
        db = CacheDb(directory, timeout_s=LOCK_TIMEOUT_S, create=False)
    except Exception as exc:
        raise _unreadable(directory, exc) from None
    try:
        yield db
    except UsageError:
        raise
    except Exception as exc:
        raise _unreadable(directory, exc) from None
    finally:
        db.close()


def _present(path: Path) -> bool:
    return path.is_symlink() or path.exists()


def _not_files(directory: Path) -> list[str]:
    """`cache.db is a FIFO`, for each of the cache's names that holds no plain file (a folder,
    a FIFO, a socket, a device): SQLite fails on them, or waits; they are never mas's."""
    found = []
    for name in OWN_FILES:
        path = directory / name
        if path.is_symlink() or not path.exists() or path.is_file():
            continue  # links are refused where the cache is opened; a plain file is read
        kind = "folder" if path.is_dir() else "FIFO" if path.is_fifo() else "socket or device"
        found.append(f"{name} is a {kind}, not a file mas made")
    return found


def entries(db: CacheDb | None, tool: str | None = None) -> Iterator[CacheEntry]:
    """Every live, readable entry (of one tool, if given); reading is not a use."""
    if db is None:
        return
    now = time.time()
    for text in db.values(tool):
        entry = CacheEntry.from_json(text)
        if entry is not None and (entry.expires_at is None or entry.expires_at > now):
            yield entry


def cache_stats(directory: Path) -> CacheStats:
    """Entries and bytes per tool, and the size on disk.

    Raises:
        UsageError: the cache cannot be read.
    """
    counts: dict[str, ToolEntries] = {}
    with opened(directory) as db:
        for entry in entries(db):
            seen = counts.get(entry.inputs.tool, ToolEntries(entry.inputs.tool))
            size = len(entry.to_json().encode())
            counts[seen.tool] = ToolEntries(seen.tool, seen.entries + 1, seen.bytes + size)
        disk = db.volume() if db is not None else 0
    tools = tuple(sorted(counts.values(), key=lambda t: t.tool))
    return CacheStats(str(directory), tools, disk, DEFAULT_SIZE_LIMIT)


def clear_cache(directory: Path, tool: str | None = None) -> int | None:
    """Remove every entry, or one tool's; how many were removed.

    A cache that cannot be read (garbage, tampered, another program's file) is reset whole:
    its files are deleted by name, and nothing it holds is read or followed; then None.

    Raises:
        UsageError: the cache cannot be written, or cannot be read and a tool was named.
    """
    check_writable(directory, "cannot clear the tool cache in")
    for _ in range(2):  # a file that was no mas cache yet may have been made one since: again
        cleared = _clear_readable(directory, tool)
        if cleared is not None:
            return cleared
        if _being_made(directory):  # another process is making the store: nothing to clear
            return 0
    try:
        reset(directory)
    except (Unusable, OSError) as exc:  # a folder where cache.db should be is not removed
        hint = f"fix its permissions, or remove it yourself: rm -r {directory}"
        raise _unreadable(directory, exc, hint) from None
    return None


def _clear_readable(directory: Path, tool: str | None) -> int | None:
    """Clear a cache that can be read; None when it cannot be, and resetting it may help.

    Raises:
        UsageError: a tool was named, or the cache is busy, locked or read-only (the file may
            be fine, and in use).
    """
    try:
        with opened(directory) as db:
            return 0 if db is None else db.clear(tool)
    except UsageError as error:
        busy = isinstance(error.__context__, sqlite3.OperationalError)
        if tool is not None or (busy and not _not_files(directory) and not disk_full(directory)):
            raise
        # A full disk: SQLite cannot even start a write, and deleting the files frees space.
    return None


def _being_made(directory: Path) -> bool:
    """Whether cache.db is an SQLite file with nothing in it yet: a mas process is making the
    store (its transaction not yet committed), or will make it there on first use. Deleting it
    then pulled the file from under the process making it, whose cache failed for the run."""
    path = directory / DB_FILE
    if path.is_symlink() or not path.is_file():
        return False
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=LOCK_TIMEOUT_S)
    except sqlite3.Error:
        return False
    try:
        return db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is None
    except sqlite3.Error:
        return False  # garbage, or a file SQLite cannot read: reset it
    finally:
        db.close()


def disk_full(directory: Path) -> bool:
    """Whether the disk holding the cache has less room than SQLite needs to start a write."""
    try:
        found = os.statvfs(directory)
    except OSError:
        return False
    return found.f_bavail * found.f_frsize < FULL_BELOW_BYTES


FULL_BELOW_BYTES = 64 << 10  # a WAL frame and its index: below this SQLite fails with "disk I/O"


def _unreadable(
    directory: Path, exc: Exception, hint: str = "fix its permissions, or reset it: mas cache clear"
) -> UsageError:
    if disk_full(directory):  # SQLite says "disk I/O error"; the disk is full
        return UsageError(
            f"the tool cache {directory} cannot be used: no space left on device",
            hint="free some space, or delete the cache to free its own: mas cache clear",
        )
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return UsageError(
        f"the tool cache {directory} cannot be used ({what})",
        hint=hint,
    )
