"""The volatile parts of arguments and messages, set aside so repeats are seen as repeats.

Two tool calls whose arguments differ only in an id, a uuid, a timestamp, a counter, a hex
digest or whitespace ask the same thing; two messages that differ only so say the same thing.
`shape` gives the text with those parts replaced by placeholders, and the parts by name: for
JSON, the path of each volatile value (a key named like an id or a time, or a value shaped like
a uuid, a hex digest or an ISO timestamp); for other text, `numbers`, `ids` and `whitespace`.
`summary` packs the parts into a short string a record can carry, and `differing` names the
parts that changed between two such summaries, for the evidence ("differ only in: id, ts").

Every step is linear in the text: one tokenizing pass whose patterns are single character-class
runs (nothing to backtrack into), whole-value patterns tried only on short values, and JSON
walked with a depth bound.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from typing import Any

from msgspec import Struct

_TOKENS = re.compile(r"[0-9A-Za-z]+|\s+|[^0-9A-Za-z\s]+")
_DIGITS = re.compile(r"[0-9]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ISO = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?)?"
)
_ZONE = re.compile(r"(Z|[+-][0-9]{2}:?[0-9]{2})?")
_HEX = frozenset(string.hexdigits)
_KEY_WORDS = (
    "id uuid guid ts timestamp time date datetime created updated nonce seq sequence "
    "counter attempt retry request etag request_id trace_id span_id call_id tool_call_id "
    "correlation_id idempotency_key message_id event_id run_id"
)
_KEYS = frozenset(_KEY_WORDS.split())
"""Keys whose values are made per call. A business id (`account_id`) is not one of them."""
_SUFFIXES = ("_at", "_ts", "_time")
MAX_DEPTH = 64
MAX_PARTS = 16
SHORT = 64
"""Values longer than this are never one volatile value as a whole."""


class Shape(Struct, frozen=True):
    """A text with its volatile parts replaced, and those parts: (name, values) pairs."""

    text: str
    parts: tuple[tuple[str, str], ...] = ()


def shape(text: str) -> Shape:
    """The text's shape: JSON when it parses as an object or array, else plain text."""
    head = text.lstrip()[:1]
    if head in ("{", "["):
        try:
            return _json_shape(json.loads(text))
        except (ValueError, RecursionError):
            pass  # not JSON after all (or too deep): read as text
    return _text_shape(text)


def _text_shape(text: str) -> Shape:
    out: list[str] = []
    parts: dict[str, list[str]] = {}
    for token in _TOKENS.findall(text):
        # Words and single spaces, most of any text, are kept as they are: no call for them.
        plain = token == " " or (token.isalpha() and token.isascii())
        out.append(token if plain else _token(token, parts))
    canonical = "".join(out).strip()
    if text != text.strip():
        parts.setdefault("whitespace", []).append(text[: len(text) - len(text.lstrip())])
    return Shape(canonical, _pack(parts))


def _token(token: str, parts: dict[str, list[str]]) -> str:
    first = token[0]
    if first.isspace():
        if token != " ":
            parts.setdefault("whitespace", []).append(token)
        return " "
    if not (first.isascii() and first.isalnum()):
        return token
    if token.isdigit():
        parts.setdefault("numbers", []).append(token)
        return "#"
    if len(token) >= 4 and _is_hex_id(token):
        parts.setdefault("ids", []).append(token)
        return "<id>"
    if any(c.isdigit() for c in token):
        parts.setdefault("numbers", []).extend(_DIGITS.findall(token))
        return _DIGITS.sub("#", token)
    return token


def _is_hex_id(token: str) -> bool:
    has_digit = any(c.isdigit() for c in token)
    return has_digit and all(c in _HEX for c in token) and not token.isdigit()


def _json_shape(value: Any) -> Shape:
    parts: dict[str, list[str]] = {}
    canonical = _walk(value, "", parts, 0)
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return Shape(text, _pack(parts))


def _walk(value: Any, path: str, parts: dict[str, list[str]], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise RecursionError("too deep")
    if isinstance(value, dict):
        return {k: _walk(v, _join(path, str(k)), parts, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, path + "[]" if path else "[]", parts, depth + 1) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if _volatile_key(path) or (isinstance(value, str) and _looks_volatile(value)):
        parts.setdefault(path or "value", []).append(str(value))
        return "<volatile>"
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _volatile_key(path: str) -> bool:
    """A key named like an id, a time or a counter (the last key of the path)."""
    key = path.rsplit(".", 1)[-1].removesuffix("[]")
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in key[:SHORT]).lstrip("_")
    snake = snake.replace("-", "_")
    return snake in _KEYS or snake.endswith(_SUFFIXES)


def _looks_volatile(value: str) -> bool:
    """A uuid, a hex digest (8 or more), an ISO 8601 time, or a long number (epoch time)."""
    if not 8 <= len(value) <= SHORT:
        return False
    if _UUID.fullmatch(value) or (value.isdigit() and len(value) >= 10):
        return True
    if _is_hex_id(value):
        return True
    iso = _ISO.match(value)
    return iso is not None and _ZONE.fullmatch(value, iso.end()) is not None


def _pack(parts: dict[str, list[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((name, "\x1f".join(values)) for name, values in list(parts.items())[:MAX_PARTS])


def joined(*shapes: Shape) -> Shape:
    """Several texts' shapes as one: their texts, and each part's values from all of them."""
    parts: dict[str, list[str]] = {}
    for found in shapes:
        for name, values in found.parts:
            parts.setdefault(name, []).append(values)
    return Shape("\x1e".join(found.text for found in shapes), _pack(parts))


def summary(found: Shape) -> str:
    """The parts as `name=digest;...`: short, and enough to tell which parts changed."""
    return ";".join(f"{_clean(name)}={_digest(values)}" for name, values in found.parts)


def _clean(name: str) -> str:
    return name.replace(";", "_").replace("=", "_")[:SHORT]


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=4).hexdigest()


def differing(a: str, b: str) -> set[str]:
    """The names of the parts whose values differ between two summaries."""
    left, right = _unpack(a), _unpack(b)
    return {name for name in left.keys() | right.keys() if left.get(name) != right.get(name)}


def _unpack(packed: str) -> dict[str, str]:
    pairs = (item.partition("=") for item in packed.split(";") if item)
    return {name: value for name, _, value in pairs}
