"""Looking after the tool cache for `mas cache`: what it holds per tool, and clearing it.

Reads here do not count as uses, so looking at the cache never changes what it evicts.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mas_cli.errors import UsageError
from mas_cli.tools.cache import DEFAULT_SIZE_LIMIT, LOCK_TIMEOUT_S, Entry

DB_FILE = "cache.db"


@dataclass(frozen=True)
class ToolEntries:
    """What one tool holds in the cache."""

    tool: str
    entries: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class CacheStats:
    """Entries and sizes per tool, and the whole cache's footprint on disk."""

    directory: str
    tools: tuple[ToolEntries, ...]
    disk_bytes: int
    size_limit: int


@contextlib.contextmanager
def opened(directory: Path) -> Iterator[Any]:
    """The existing cache with its stored settings, or None when there is none yet.

    Raises:
        UsageError: the cache cannot be opened or read (corrupt, unreadable).
    """
    if not (directory / DB_FILE).is_file():
        yield None
        return
    try:
        import diskcache

        db = diskcache.Cache(str(directory), timeout=LOCK_TIMEOUT_S)
    except Exception as exc:
        raise _unreadable(directory, exc) from None
    db.reset("eviction_policy", "none", update=False)  # this object only: reads are not uses
    try:
        yield db
    except UsageError:
        raise
    except Exception as exc:
        raise _unreadable(directory, exc) from None
    finally:
        db.close()


def entries(db: Any, tool: str | None = None) -> Iterator[Entry]:
    """Every live, readable entry (of one tool, if given)."""
    if db is None:
        return
    now = time.time()
    for key in list(db.iterkeys()):
        if isinstance(key, str) and (tool is None or key.rpartition("/")[0] == tool):
            entry = Entry.from_json(db.get(key))
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
        disk = int(db.volume()) if db is not None else 0
        limit = int(db.size_limit) if db is not None else DEFAULT_SIZE_LIMIT
    tools = tuple(sorted(counts.values(), key=lambda t: t.tool))
    return CacheStats(str(directory), tools, disk, limit)


def clear_cache(directory: Path, tool: str | None = None) -> int:
    """Remove every entry, or one tool's; how many were removed.

    Raises:
        UsageError: the cache cannot be written.
    """
    with opened(directory) as db:
        if db is None:
            return 0
        return int(db.clear(retry=True) if tool is None else db.evict(tool, retry=True))


def _unreadable(directory: Path, exc: Exception) -> UsageError:
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return UsageError(
        f"the tool cache {directory} cannot be used ({what})",
        hint=f"fix its permissions, or delete the folder to start a fresh cache: rm -r {directory}",
    )
