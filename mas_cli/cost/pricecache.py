"""Prices found in genai-prices once, kept on disk, so a run need not import genai-prices.

Importing genai-prices (its 1.6 MB data module, pydantic, an HTTP client) is the largest part
of `mas run --offline` and `mas validate`. A model's price is a fact of one genai-prices
version: the lookup of (model name, provider, base_url) gives the same answer until a price
that genai-prices dates in the future starts (a time-of-day price is never cached). Such
answers, and "no price", are written to `$XDG_CACHE_HOME/mas/prices-<version>.json` (else
`~/.cache/mas/`): per tier, the cost of a request and of one token of each kind, as
genai-prices' own arithmetic gave them (prices.py `pieces_from`).

Never a wrong price, never a failed run: a file of another version is never read; an entry
past its date, or not shaped as written (decimals from 0 to $1,000 a token, tiers in order), is a
miss; a file that cannot be read or written is a miss (the price is looked up in
genai-prices, as without this cache).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

FORMAT = 1
MAX_BYTES = 1 << 20  # far more than any crew's models need; a larger file is not ours
# Dollars per token or per request: no price comes near it; past it (1e999999 overflows the
# Decimal arithmetic of a call's cost) an entry is not ours.
MAX_RATE = Decimal(1000)
Key = tuple[str, str | None, str | None]  # model name, provider, base_url
Linear = tuple[Decimal, Decimal, Decimal, Decimal, Decimal]
Pieces = tuple[tuple[int, Linear], ...]  # prices.py: (tier start, coefficients) per tier
# An entry: (source, pieces, the UTC date a dated price changes on if one does), or None for a
# model genai-prices has no price for.
Entry = tuple[str, Pieces, date | None] | None


class Miss:
    """No usable entry: look the price up."""


MISS = Miss()


def folder() -> Path:
    """Where the price files live: $XDG_CACHE_HOME/mas, else ~/.cache/mas."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mas"


def _path(version: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in ".-_" else "_" for ch in version)
    return folder() / f"prices-{safe}.json"


def _entries(version: str) -> dict[str, object]:
    try:
        with _path(version).open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
        doc = json.loads(raw) if len(raw) <= MAX_BYTES else None
    except (OSError, ValueError, RecursionError):
        return {}
    ok = isinstance(doc, dict) and doc.get("format") == FORMAT and doc.get("version") == version
    entries = doc.get("entries") if ok and isinstance(doc, dict) else None
    return entries if isinstance(entries, dict) else {}


def _decode(value: object) -> Entry | Miss:
    """An entry as written, or MISS when it is not one."""
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)):
        return MISS
    until = _date(value[2])
    if until is MISS or (isinstance(until, date) and datetime.now(UTC).date() >= until):
        return MISS  # the price has changed since (a new price starts that day)
    pieces = value[1] if isinstance(value[1], list) and value[1] else []
    decoded = [_piece(p) for p in pieces]
    if not decoded or any(p is None for p in decoded):
        return MISS
    starts = [p[0] for p in decoded if p is not None]
    if starts[0] != -1 or starts != sorted(set(starts)):
        return MISS
    return value[0], tuple(p for p in decoded if p is not None), until  # type: ignore[return-value]


def _date(value: object) -> date | Miss | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value) if isinstance(value, str) else MISS
    except ValueError:
        return MISS


def _piece(value: object) -> tuple[int, Linear] | None:
    """[start, [five decimals]] with a whole start and decimals from 0 to MAX_RATE."""
    if not (isinstance(value, list) and len(value) == 2 and type(value[0]) is int):
        return None
    numbers = value[1]
    if not (isinstance(numbers, list) and len(numbers) == 5):
        return None
    try:
        linear = tuple(Decimal(n) for n in numbers if isinstance(n, str))
    except InvalidOperation:
        return None
    if len(linear) != 5 or not all(d.is_finite() and 0 <= d <= MAX_RATE for d in linear):
        return None
    return value[0], linear


def get(version: str, key: Key) -> Entry | Miss:
    """The entry stored for this key under this genai-prices version, or MISS."""
    return _decode(_entries(version).get(json.dumps(key), MISS))


def put(version: str, key: Key, entry: Entry) -> None:
    """Store one entry beside the others (written whole, by rename); failures are ignored."""
    entries = _entries(version)
    if entry is None:
        entries[json.dumps(key)] = None
    else:
        source, pieces, until = entry
        written = [[start, [str(d) for d in lin]] for start, lin in pieces]
        entries[json.dumps(key)] = [source, written, until and until.isoformat()]
    doc = {"format": FORMAT, "version": version, "entries": entries}
    try:
        folder().mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder(), prefix=".prices-", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        Path(tmp).replace(_path(version))
    except OSError:
        Path(tmp).unlink(missing_ok=True)
