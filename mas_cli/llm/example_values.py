"""Values that satisfy a JSON Schema, drawn from the words of a prompt and earlier results.

The offline model uses these to call tools and to answer with valid structured output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from msgspec import Struct, field

from mas_cli.llm.regex_sample import sample
from mas_cli.spec.patterns import schema_validator

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "what",
        "which",
        "who",
        "will",
        "with",
        "you",
        "your",
        "their",
        "them",
        "they",
        "he",
        "she",
        "we",
        "our",
        "how",
        "why",
        "when",
    ]
)


def content_words(text: str) -> list[str]:
    """The words of a text worth searching for, in order, without stopwords or placeholders."""
    words = re.findall(r"[A-Za-z0-9][A-Za-z0-9_.:$-]*[A-Za-z0-9]|[A-Za-z0-9]", text)
    return [w for w in words if w.lower() not in STOPWORDS]


MAX_VALUE_CHARS = 1_000_000
"""The most a made-up value may take as JSON. A schema asking for more (`minLength: 1e9`,
arrays of arrays with large `minItems`) gets a value that falls short of it and fails
validation, as a real model's answer would, instead of filling memory."""


class Room(Struct):
    """What is left of MAX_VALUE_CHARS for one value and everything inside it."""

    left: int = MAX_VALUE_CHARS

    def take(self, chars: int) -> None:
        self.left = max(0, self.left - chars)


class _Seed(Struct, frozen=True):
    """What a made-up value may draw on: the field's name, the prompt, earlier results."""

    name: str
    text: str
    hints: dict[str, Any]
    room: Room = field(default_factory=Room)


def value_for(
    schema: dict[str, Any], name: str, text: str, hints: dict[str, Any], room: Room | None = None
) -> Any:
    """A value valid under `schema` for a field `name`: a hint when one fits, else made up
    within `room` (a new MAX_VALUE_CHARS when none is given)."""
    if name in hints and _valid(schema, hints[name]):
        return hints[name]
    made = _make(schema, _Seed(name, text, hints, room or Room()))
    return made if _valid(schema, made) else _fallback(schema)


def _make(schema: dict[str, Any], seed: _Seed) -> Any:
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return _make(schema[key][0], seed)
    kind = schema.get("type", "string")
    kind = kind[0] if isinstance(kind, list) else kind
    return _MAKERS.get(kind, _string)(schema, seed)


def _object(schema: dict[str, Any], seed: _Seed) -> Any:
    props: dict[str, Any] = schema.get("properties", {})
    return {
        key: value_for(sub, key, seed.text, seed.hints, seed.room) for key, sub in props.items()
    }


def _array(schema: dict[str, Any], seed: _Seed) -> Any:
    item = schema.get("items", {"type": "string"})
    value = value_for(item, seed.name, seed.text, seed.hints, seed.room)
    wanted = _whole(schema.get("minItems"), 1)
    size = len(json.dumps(value, default=str)) + 1  # the copies after the first, with commas
    count = max(1, min(wanted, 1 + seed.room.left // size))
    seed.room.take((count - 1) * size)
    return [value] * count


def _whole(value: Any, default: int) -> int:
    """A count from a schema (minItems, minLength), which may be written 5.0."""
    return int(value) if isinstance(value, int | float) and value == value // 1 else default


def _number(schema: dict[str, Any], _seed: _Seed) -> Any:
    """The middle of the range when it is valid, else the first valid of a few candidates."""
    low = _first(schema, "minimum", "exclusiveMinimum")
    high = _first(schema, "maximum", "exclusiveMaximum")
    step = schema.get("multipleOf", 1)
    middle = (low + high) / 2 if low is not None and high is not None else None
    near = [v for v in (low, high) if v is not None]
    candidates = [middle, *near, *(v + d for v in near for d in (step, -step)), 1, 0, step]
    whole = schema.get("type") == "integer"
    stepped = "multipleOf" in schema or whole
    for candidate in candidates:
        value = round(candidate / step) * step if stepped and candidate is not None else candidate
        if value is not None and _valid(schema, int(value) if whole else float(value)):
            return int(value) if whole else float(value)
    return int(step) if whole else float(step)


def _first(schema: dict[str, Any], *keys: str) -> Any:
    return next((schema[k] for k in keys if isinstance(schema.get(k), int | float)), None)


FORMATS = {
    "date": "2026-01-01",
    "date-time": "2026-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "iri": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "duration": "P1D",
}


def _string(schema: dict[str, Any], seed: _Seed) -> Any:
    words = content_words(seed.text)
    if schema.get("format") in FORMATS:
        return FORMATS[schema["format"]]
    if isinstance(schema.get("pattern"), str):
        return _patterned(schema["pattern"], seed, words)
    if seed.name.endswith("id"):
        return _identifier(seed.name, words) or (words[0] if words else seed.name)
    phrase = " ".join(words[:6]) or seed.name
    phrase = phrase.ljust(min(_whole(schema.get("minLength"), 0), seed.room.left), "x")
    phrase = phrase[: _whole(schema.get("maxLength"), len(phrase))]
    seed.room.take(len(phrase))
    return phrase


def _patterned(pattern: str, seed: _Seed, words: list[str]) -> str:
    """A word of the prompt that matches (`acct-7` for `^acct-\\d+$`), else one made to match."""
    try:
        fits = [w for w in words if re.search(pattern, w)]
    except re.error:
        return seed.name
    return fits[0] if fits else sample(pattern) or seed.name


def _identifier(name: str, words: list[str]) -> str | None:
    # "account acct-7": the word after the field's stem; else the first word with a digit.
    stem = name.removesuffix("id").rstrip("_").lower()
    lowered = [w.lower() for w in words]
    if stem in lowered and lowered.index(stem) + 1 < len(words):
        return words[lowered.index(stem) + 1]
    mixed = (w for w in words if any(c.isdigit() for c in w) and any(c.isalpha() for c in w))
    return next(mixed, None)


_MAKERS: dict[str, Callable[[dict[str, Any], _Seed], Any]] = {
    "object": _object,
    "array": _array,
    "number": _number,
    "integer": _number,
    "boolean": lambda _schema, _seed: False,
    "null": lambda _schema, _seed: None,
    "string": _string,
}
_EMPTY = {"object": {}, "array": [], "number": 0, "integer": 0, "boolean": False, "null": None}


def _fallback(schema: dict[str, Any]) -> Any:
    return _EMPTY.get(str(schema.get("type")), "")


def _valid(schema: dict[str, Any], value: Any) -> bool:
    # formats count: a made-up email must be an email
    return schema_validator(schema, formats=True).is_valid(value)
