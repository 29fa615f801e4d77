"""Values that satisfy a JSON Schema, drawn from the words of a prompt and earlier results.

The offline model uses these to call tools and to answer with valid structured output.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class _Seed:
    """What a made-up value may draw on: the field's name, the prompt, earlier results."""

    name: str
    text: str
    hints: dict[str, Any]


def value_for(schema: dict[str, Any], name: str, text: str, hints: dict[str, Any]) -> Any:
    """A value valid under `schema` for a field `name`: a hint when one fits, else made up."""
    if name in hints and _valid(schema, hints[name]):
        return hints[name]
    made = _make(schema, _Seed(name, text, hints))
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
    return {key: value_for(sub, key, seed.text, seed.hints) for key, sub in props.items()}


def _array(schema: dict[str, Any], seed: _Seed) -> Any:
    item = schema.get("items", {"type": "string"})
    return [value_for(item, seed.name, seed.text, seed.hints)] * max(1, schema.get("minItems", 1))


def _number(schema: dict[str, Any], _seed: _Seed) -> Any:
    low, high = schema.get("minimum"), schema.get("maximum")
    value = (
        (low + high) / 2 if low is not None and high is not None else low if low is not None else 1
    )
    return int(value) if schema.get("type") == "integer" else float(value)


def _string(schema: dict[str, Any], seed: _Seed) -> Any:
    words = content_words(seed.text)
    if seed.name.endswith("id"):
        return _identifier(seed.name, words) or (words[0] if words else seed.name)
    phrase = " ".join(words[:6]) or seed.name
    return phrase[: schema.get("maxLength", len(phrase))]


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
    return bool(schema_validator(schema).is_valid(value))
