"""JSON and nothing else: NaN and ±Infinity are found and refused, never written.

Python's json module reads and writes bare `NaN` and `Infinity`, which are not JSON: `jq`,
browsers and most other languages refuse a file holding them. Values we validate (state writes,
task outputs, tool arguments) refuse non-finite numbers with `non_finite`; files we write go
through `dumps`, which never writes them (a non-finite number that got this far is written
as null, as pydantic writes the run log's events).
"""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec


def non_finite(value: Any) -> tuple[str, float] | None:
    """The first NaN or ±Infinity in a JSON-like value, and where it is (`a[2].b`, "" for the
    value itself); None when there is none."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return where, item
        if isinstance(item, dict):
            stack.extend(
                (v, f"{where}.{k}" if where else str(k)) for k, v in reversed(item.items())
            )
        elif isinstance(item, list | tuple):
            stack.extend((v, f"{where}[{i}]") for i, v in reversed(list(enumerate(item))))
    return None


def refusal(value: Any) -> str | None:
    """The message for a value holding NaN or ±Infinity; None when it holds none."""
    found = non_finite(value)
    if found is None:
        return None
    where, number = found
    return f"{where or '(root)'}: {number} is not a finite number (NaN and Infinity are not JSON)"


_ENCODER = msgspec.json.Encoder(enc_hook=str)


def line_bytes(value: Any) -> bytes | None:
    """The value as one compact JSON line in UTF-8 (newline included), made by msgspec: several
    times faster than json.dumps for a large record. Non-finite numbers become null; a value it
    cannot write as is (a lone surrogate, an integer past 64 bits) gives None: use dumps."""
    try:
        return _ENCODER.encode(value) + b"\n"
    except (UnicodeEncodeError, TypeError, OverflowError, msgspec.EncodeError):
        return None


def dumps(value: Any, **options: Any) -> str:
    """json.dumps that writes JSON only: non-finite numbers become null."""
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:
        return json.dumps(finite(value), allow_nan=False, **options)


def finite(value: Any) -> Any:
    """A copy with every NaN and ±Infinity replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value
