"""The deterministic-output cache: successful outputs of deterministic tools, on disk.

It lives in `<home>/cache/cache.db` (see cache_db.py: SQLite in WAL mode, so parallel tasks
of one run and several `mas` processes can share it), bounded by a size limit with
least-recently-used eviction. Keys and values are plain text (the value is JSON), read as data
only, and every value carries its key's inputs (see cachekey.py) so a miss can be explained.
While a call runs for a key, other callers of that key wait for its entry (cache_claim.py).

Nothing here raises. A cache that cannot be opened, read or written (corrupt, read-only, a full
disk, a lock held too long) is a miss; the problem comes back as text, once per distinct
problem, for the caller to log as a warning.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from msgspec import Struct

from mas_cli import records
from mas_cli.events.text import loads
from mas_cli.records import asdict
from mas_cli.tools.base import Tool, ToolResult, timed_out
from mas_cli.tools.cache_claim import Claim, Claims
from mas_cli.tools.cache_db import CacheDb
from mas_cli.tools.cachekey import KeyInputs, cacheable, key_inputs, normalized

CACHE_DIR = "cache"
DEFAULT_SIZE_LIMIT = 2**30
"""1 GiB; past it, the least recently used entries are evicted."""
LOCK_TIMEOUT_S = 10.0
"""How long one read or write waits for another process's lock before it counts as a miss."""
ENTRY_VERSION = 1


def cache_dir(home: Path) -> Path:
    """Where the tool cache of a mas home lives."""
    return home / CACHE_DIR


class CacheEntry(Struct, frozen=True):
    """One cached output, with its key's inputs and what the original call cost."""

    inputs: KeyInputs
    output: str
    truncated: bool
    exit_code: int | None
    latency_s: float
    """How long the original call took: the time a hit saves."""
    stored_at: float
    """Unix time."""
    expires_at: float | None = None

    def result(self, latency_s: float) -> ToolResult:
        """The cached output as a result, taking `latency_s` (the lookup's time)."""
        return ToolResult(
            ok=True,
            output=self.output,
            latency_s=latency_s,
            truncated=self.truncated,
            exit_code=self.exit_code,
        )

    def to_json(self) -> str:
        """The stored text."""
        return json.dumps({"v": ENTRY_VERSION, **asdict(self)})

    @classmethod
    def from_json(cls, text: Any) -> CacheEntry | None:
        """The entry stored as `text`; None when it is not one (corrupt, or another version)."""
        try:
            data = loads(text)
            if data.pop("v") != ENTRY_VERSION:
                return None
            entry = cls(inputs=KeyInputs(**data.pop("inputs")), **data)
        except (TypeError, ValueError, KeyError, AttributeError, RecursionError):
            return None
        return entry if _well_typed(entry) else None


_FIELD_TYPES: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("output", str),
    ("truncated", bool),
    ("exit_code", (int, type(None))),
    ("latency_s", (int, float)),
    ("stored_at", (int, float)),
    ("expires_at", (int, float, type(None))),
)
_INPUT_TYPES = (("tool", str), ("fingerprint", str), ("version", str), ("arguments", str))


def _well_typed(entry: CacheEntry) -> bool:
    """A stored entry is data from a file anyone may have edited: every field of its type."""
    pairs = [(getattr(entry, name), kind) for name, kind in _FIELD_TYPES]
    pairs += [(getattr(entry.inputs, name), kind) for name, kind in _INPUT_TYPES]
    pairs.append((entry.inputs.max_output_bytes, int))
    return all(isinstance(value, kind) for value, kind in pairs)


class Lookup(Struct, frozen=True):
    """A fetch: the entry on a hit, None on a miss; `problem` when the cache failed."""

    entry: CacheEntry | None
    problem: str | None = None


class ToolCache:
    """One cache directory, opened (and created) on first use. fetch and store never raise.

    Use it as a context manager, or call close(): the SQLite connection is closed there.
    """

    def __init__(
        self,
        directory: Path,
        *,
        size_limit: int = DEFAULT_SIZE_LIMIT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.size_limit = size_limit
        self.clock = clock
        self._db: CacheDb | None = None
        self._broken: Exception | None = None
        self._reported: set[str] = set()
        self._claims = Claims(directory)

    def ready(self) -> str | None:
        """Open the cache now (not during a timed call); the problem, if it cannot be opened."""
        try:
            self._open()
        except Exception as exc:
            return self._problem("open", exc)
        return None

    def fetch(self, inputs: KeyInputs) -> Lookup:
        """The live entry for these key inputs, if any."""
        try:
            text = self._open().get(inputs.key, self.clock())
        except Exception as exc:
            return Lookup(None, self._problem("read", exc))
        if text is None:
            return Lookup(None)
        entry = CacheEntry.from_json(text)
        if entry is None or entry.inputs != inputs:
            return Lookup(None, self._report(f"{self._where()}: an unreadable entry was skipped"))
        if entry.expires_at is not None and self.clock() >= entry.expires_at:
            return Lookup(None)
        return Lookup(entry)

    def store(self, inputs: KeyInputs, result: ToolResult, ttl_s: float | None) -> str | None:
        """Store a successful result; the problem, if the cache could not be written."""
        try:
            now = self.clock()
            entry = CacheEntry(
                inputs=inputs,
                output=result.output,
                truncated=result.truncated,
                exit_code=result.exit_code,
                latency_s=round(result.latency_s, 6),
                stored_at=now,
                expires_at=None if ttl_s is None else now + ttl_s,
            )
            db = self._open()
            db.set(inputs.key, inputs.tool, entry.to_json(), now=now, expires_at=entry.expires_at)
            db.evict(now, self.size_limit)
        except Exception as exc:
            return self._problem("write", exc)
        return None

    async def claim(self, inputs: KeyInputs, wait_s: float) -> Claim:
        """Hold the key while its tool runs: another caller of it (here or in another process)
        waits, at most `wait_s`, for this one's entry (see cache_claim.py). No waiting when the
        cache cannot be used: nothing would be stored to wait for."""
        if self._db is None:
            return Claim(None, inputs.digest, None)
        return await self._claims.acquire(inputs.digest, wait_s)

    def close(self) -> None:
        """Close the database connection; a later call opens it again."""
        self._claims.close()
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> ToolCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> CacheDb:
        """The store, opened (and created) on first use; a failed open is not retried."""
        if self._broken is not None:
            raise self._broken
        if self._db is None:
            try:
                self._db = CacheDb(self.directory, timeout_s=LOCK_TIMEOUT_S, create=True)
            except Exception as exc:
                self._broken = exc
                raise
        return self._db

    def _problem(self, action: str, exc: Exception) -> str | None:
        action = "open" if exc is self._broken else action
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return self._report(
            f"{self._where()}: cannot {action} ({what}); the tool runs uncached "
            "(fix the folder's permissions or space, or start a fresh cache: mas cache clear)"
        )

    def _report(self, message: str) -> str | None:
        """The message the first time it occurs, then None: one warning per problem."""
        if message in self._reported:
            return None
        self._reported.add(message)
        return message

    def _where(self) -> str:
        return f"tool cache {self.directory}"


CacheStatus = Literal["hit", "miss", "off"]
"""off: the tool is not cacheable (live, side_effect), or there is no cache (--no-cache)."""


class CachedCall(Struct, frozen=True):
    """One tool call through the cache: the result, hit or miss, and what the cache reported."""

    result: ToolResult
    status: CacheStatus
    key: str | None = None
    """The key's digest, when the cache was asked."""
    saved_s: float | None = None
    """On a hit: how long the original call took."""
    problems: tuple[str, ...] = ()
    """Cache failures, each to be logged as a warning; the call itself went on without it."""
    idempotency_key: str | None = None
    """A side_effect call's key (see engine.effects)."""
    replayed: bool = False
    """A side_effect call answered from an earlier run's log instead of being made again."""


async def call_cached(tool: Tool, arguments: dict[str, Any], cache: ToolCache | None) -> CachedCall:
    """Call a tool, answering from the cache when the tool is deterministic and has an entry.

    Successful results of deterministic tools are stored; failures never are. A cache that
    fails is a miss: this never raises for the cache's sake.
    """
    if not cacheable(tool):
        return CachedCall(await tool.call(arguments), "off")
    arguments = normalized(arguments)  # with the cache or without: one call, one value
    if cache is None:
        return CachedCall(await tool.call(arguments), "off")
    opened = cache.ready()  # opening once per process is set-up, not part of this call's time
    started = time.perf_counter()
    try:
        inputs = key_inputs(tool, arguments)
    except (ValueError, OSError):  # not JSON (the tool's own checks will say so), or unstat-able
        return CachedCall(await tool.call(arguments), "off")
    lookup = cache.fetch(inputs)
    problems = tuple(p for p in (opened, lookup.problem) if p)
    if lookup.entry is None:  # another caller may be running it now: wait for its entry
        claim = await cache.claim(inputs, tool.spec.timeout_s)
        try:
            lookup = cache.fetch(inputs)  # stored meanwhile by the caller this one waited for
            problems += tuple(filter(None, [lookup.problem]))
            if lookup.entry is None:
                waited = time.perf_counter() - started if claim.waited else 0.0
                if claim.gave_up:  # timeout_s spent waiting: none is left to run the tool in
                    result = _waited_out(tool.spec.timeout_s, waited)
                    return CachedCall(result, "miss", inputs.digest, None, problems)
                return await _call_and_store(
                    tool, arguments, cache, inputs, problems, waited_s=waited
                )
        finally:
            claim.release()
    result = lookup.entry.result(time.perf_counter() - started)
    return CachedCall(result, "hit", inputs.digest, lookup.entry.latency_s, problems)


async def _call_and_store(
    tool: Tool,
    arguments: dict[str, Any],
    cache: ToolCache,
    inputs: KeyInputs,
    problems: tuple[str, ...],
    *,
    waited_s: float,
) -> CachedCall:
    result = await _within(tool, arguments, waited_s)
    stored = cache.store(inputs, result, tool.spec.cache_ttl_s) if result.ok else None
    return CachedCall(result, "miss", inputs.digest, None, (*problems, *filter(None, [stored])))


async def _within(tool: Tool, arguments: dict[str, Any], waited_s: float) -> ToolResult:
    """The tool's call in what is left of its timeout_s after `waited_s` spent waiting for
    another caller of the key: timeout_s bounds the whole call, waiting included."""
    import asyncio  # here: `mas cache stats` imports this module and runs no event loop

    if not waited_s:  # nobody held the key: the tool's own timeout is the bound
        return await tool.call(arguments)
    timeout_s = tool.spec.timeout_s
    left_s = timeout_s - waited_s
    if left_s <= 0:
        return _waited_out(timeout_s, waited_s)
    try:
        async with asyncio.timeout(left_s):
            return await tool.call(arguments)
    except TimeoutError:
        return _waited_out(timeout_s, waited_s)


def _waited_out(timeout_s: float, waited_s: float) -> ToolResult:
    """A call whose timeout_s passed, part of it spent waiting for another caller's entry."""
    result = timed_out(timeout_s)
    error = (
        f"{result.error} ({waited_s:.1f}s of it waiting for the same call, with the same "
        "arguments, made by another task or process, which stored no result)"
    )
    return records.replace(result, error=error, output=f"error: {error}")
