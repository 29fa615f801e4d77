"""The tool cache's store: one SQLite file of text rows, read as data and nothing else.

`<cache folder>/cache.db` holds one table, `entries(key, tool, value, size, expires_at,
used_at)`, every value JSON text. Nothing read from the file is ever unpickled, evaluated or
used as a path: a tampered file can make entries miss, never run code or reach another file.
The file is marked with an application id and a schema version; a file without them (garbage,
another program's database, an older cache) is refused whole, never written to. A symbolic
link where the folder, the database or its journal should be is refused too, so SQLite never
follows one out of the folder. `reset` deletes the store's own files by name (a link is
unlinked, never followed), which is how `mas cache clear` recovers a cache it cannot read.

WAL mode lets the parallel tasks of a run and several `mas` processes share the file; past the
size limit, the least recently used entries are evicted.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

DB_FILE = "cache.db"
OWN_FILES = (DB_FILE, f"{DB_FILE}-wal", f"{DB_FILE}-shm", f"{DB_FILE}-journal")
APPLICATION_ID = 0x6D617331  # "mas1": PRAGMA application_id of a cache.db that mas made
SCHEMA_VERSION = 1
COLUMNS = ("key", "tool", "value", "size", "expires_at", "used_at")
SCHEMA = """
CREATE TABLE entries (
    key TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    value TEXT NOT NULL,
    size INTEGER NOT NULL,
    expires_at REAL,
    used_at REAL NOT NULL
);
CREATE INDEX entries_tool ON entries(tool);
CREATE INDEX entries_used ON entries(used_at);
"""
# The entries past the size limit, counting back from the most recently used.
EVICT = """
DELETE FROM entries WHERE key IN (
    SELECT key FROM (
        SELECT key, SUM(size) OVER (ORDER BY used_at DESC, key) AS running FROM entries
    ) WHERE running > ?
)
"""


class Unusable(Exception):
    """The store cannot be used as it is; `mas cache clear` resets it."""


class CacheDb:
    """One open cache.db. Every method may raise sqlite3.Error or OSError (the caller's miss)."""

    def __init__(self, directory: Path, *, timeout_s: float, create: bool) -> None:
        _refuse_links(directory)
        if create:
            directory.mkdir(parents=True, exist_ok=True)
            _refuse_links(directory)  # a link planted while the folder was being made
        self._db = sqlite3.connect(
            directory / DB_FILE, timeout=timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            self._prepare_patiently(directory, create, time.monotonic() + timeout_s)
        except BaseException:
            self._db.close()
            raise

    def _prepare_patiently(self, directory: Path, create: bool, deadline: float) -> None:
        """`_prepare`, tried again while another process holds a lock SQLite will not wait on
        (two processes making the store at once: one switching it to WAL while the other looks)."""
        pause = 0.005
        while True:
            try:
                self._prepare(directory, create)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

    def _prepare(self, directory: Path, create: bool) -> None:
        self._db.execute("PRAGMA trusted_schema = OFF")  # no functions run from the file's schema
        if not self._is_ours() and not (create and self._create()):
            raise Unusable(f"{directory / DB_FILE} is not a mas tool cache")
        self._db.execute("PRAGMA synchronous = NORMAL")

    def _is_ours(self) -> bool:
        (app,) = self._db.execute("PRAGMA application_id").fetchone()
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if (app, version) != (APPLICATION_ID, SCHEMA_VERSION):
            return False
        columns = [row[1] for row in self._db.execute("PRAGMA table_info(entries)")]
        return columns == list(COLUMNS)

    def _is_empty(self) -> bool:
        return self._db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is None

    def _create(self) -> bool:
        """Make the store in an empty file; whether the file is (now) ours.

        Checked again under the write lock: another process may have made it, or be making it,
        since this one first looked (then this one waits, and finds it made).
        """
        self._db.execute("PRAGMA auto_vacuum = FULL")  # evicted space goes back to the disk
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if self._is_empty():
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        if not self._is_ours():
            return False
        self._db.execute("PRAGMA journal_mode = WAL")
        return True

    def get(self, key: str, now: float) -> str | None:
        """The value stored under `key` (counted as a use); None when there is none."""
        row = self._db.execute("SELECT value FROM entries WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        self._db.execute("UPDATE entries SET used_at = ? WHERE key = ?", (now, key))
        return row[0] if isinstance(row[0], str) else None

    def set(self, key: str, tool: str, value: str, *, now: float, expires_at: float | None) -> None:
        """Store a value under `key`, replacing any."""
        row = (key, tool, value, len(value.encode()), expires_at, now)
        self._db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?)", row)

    def evict(self, now: float, size_limit: int) -> None:
        """Drop expired entries, then the least recently used past `size_limit` bytes."""
        self._db.execute("DELETE FROM entries WHERE expires_at <= ?", (now,))
        (total,) = self._db.execute("SELECT TOTAL(size) FROM entries").fetchone()
        if total > size_limit:
            self._db.execute(EVICT, (size_limit,))

    def values(self, tool: str | None = None) -> Iterator[str]:
        """Every stored value (of one tool), not counted as uses; non-text values are skipped."""
        where, args = ("WHERE tool = ?", (tool,)) if tool is not None else ("", ())
        for (value,) in self._db.execute(f"SELECT value FROM entries {where}", args).fetchall():
            if isinstance(value, str):
                yield value

    def clear(self, tool: str | None = None) -> int:
        """Delete every entry (of one tool); how many were deleted."""
        if tool is None:
            return self._db.execute("DELETE FROM entries").rowcount
        return self._db.execute("DELETE FROM entries WHERE tool = ?", (tool,)).rowcount

    def volume(self) -> int:
        """The database's size in bytes (its pages)."""
        (pages,) = self._db.execute("PRAGMA page_count").fetchone()
        (size,) = self._db.execute("PRAGMA page_size").fetchone()
        return int(pages) * int(size)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


def reset(directory: Path) -> None:
    """Delete the store's own files, by name: a link is removed, never followed.

    Raises:
        Unusable: the folder is a symbolic link.
        OSError: a file cannot be removed.
    """
    if directory.is_symlink():
        raise Unusable(f"{directory} is a symbolic link; the tool cache never follows one")
    for name in OWN_FILES:
        (directory / name).unlink(missing_ok=True)


def _refuse_links(directory: Path) -> None:
    for path in (directory, *(directory / name for name in OWN_FILES)):
        if path.is_symlink():
            raise Unusable(f"{path} is a symbolic link; the tool cache never follows one")
