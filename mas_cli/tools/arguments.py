"""Tool arguments typed on a command line: `--args JSON|@file.json` and `--arg key=value`.

A `--arg` value is read as the type its parameter's schema names (`limit=2` is the integer 2,
`strict=true` the boolean), so a command line can say what a model would send as JSON.
A value that cannot be read that way stays a string, and the schema check says what is wrong.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mas_cli.errors import UsageError
from mas_cli.events.diskio import read_capped
from mas_cli.events.text import fix_value, loads
from mas_cli.redact import Secrets
from mas_cli.spec.models import JsonSchema
from mas_cli.words import json_kind

_INTEGER = re.compile(r"^[+-]?\d+$")
_BOOLEANS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}
_JSON_KINDS: dict[str, type | tuple[type, ...]] = {"array": list, "object": dict}


def parse_arguments(
    parameters: JsonSchema, pairs: list[str], args_json: str | None, secrets: Secrets | None = None
) -> dict[str, Any]:
    """--args first (a JSON object, or @file.json), then each --arg key=value over it; a known
    secret in a value is *** (`secrets`), as in a model's call in a run: never in the cache.
    A lone surrogate (`"\\ud800"` in the JSON, a byte that was not UTF-8) is U+FFFD, as there.

    Raises:
        UsageError: a pair is not key=value, or --args is not a JSON object (or unreadable).
    """
    arguments = _args_json(args_json) if args_json else {}
    properties = parameters.get("properties", {})
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--arg {pair!r} is not key=value", hint='e.g. --arg query="refunds"')
        key = key.strip()
        arguments[key] = coerce(text, properties.get(key, {}))
    fix_value(arguments)  # in place
    return secrets.scrub_value(arguments) if secrets is not None else arguments


def coerce(text: str, schema: JsonSchema) -> Any:
    """The value `text` stands for under `schema`; the text itself when it stands for none."""
    kinds = _kinds(schema)
    if not kinds:
        return _json_or_text(text)
    for kind in kinds:
        value = _as_kind(text, kind)
        if value is not _NO:
            return value
    return text


_NO = object()


def _as_kind(text: str, kind: str) -> Any:
    """`text` read as one JSON Schema type, or _NO."""
    stripped = text.strip()
    if kind == "string":
        return text
    if kind == "integer":
        return _integer(stripped)
    if kind == "number":
        return _number(stripped)
    if kind == "boolean":
        return _BOOLEANS.get(stripped.lower(), _NO)
    if kind == "null":
        return None if stripped.lower() in ("null", "none", "") else _NO
    value = _json_or_text(stripped)
    return value if isinstance(value, _JSON_KINDS.get(kind, ())) else _NO


def _kinds(schema: JsonSchema) -> list[str]:
    """The types a schema admits, strings last (every text is a string, so it is the fallback)."""
    declared = schema.get("type")
    if isinstance(declared, str):
        kinds = [declared]
    elif isinstance(declared, list):
        kinds = [k for k in declared if isinstance(k, str)]
    else:
        members = schema.get("anyOf") or schema.get("oneOf") or []
        kinds = [k for m in members if isinstance(m, dict) for k in _kinds(m)]
        if "enum" in schema and not kinds:
            kinds = sorted({_type_name(v) for v in schema["enum"]})
    return sorted(dict.fromkeys(kinds), key=lambda k: k == "string")


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "null" if value is None else "string"


def _integer(text: str) -> Any:
    """The integer the text writes, or _NO (past Python's 4,300 digits too: it stays text, and
    the schema check says what is wrong)."""
    if not _INTEGER.match(text):
        return _NO
    try:
        return int(text)
    except ValueError:
        return _NO


def _number(text: str) -> Any:
    if _INTEGER.match(text):
        return _integer(text)
    try:
        return float(text)
    except ValueError:
        return _NO


def _json_or_text(text: str) -> Any:
    try:
        return loads(text)
    except ValueError:
        return text


def _args_json(given: str) -> dict[str, Any]:
    where = "--args"
    text = given
    if given.startswith("@"):
        where, text = given[1:], _args_file(Path(given[1:]))
    try:
        data = loads(text)
    except ValueError as exc:
        raise UsageError(
            f"{where}: not valid JSON ({exc})", hint="""e.g. --args '{"query": "refunds"}'"""
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a JSON object of arguments, got {json_kind(data)}")
    return data


MAX_ARGS_BYTES = 8 << 20  # as --inputs: what a command line hands a tool, never a whole disk


def _args_file(path: Path) -> str:
    """The text of `--args @file`: at most MAX_ARGS_BYTES read, UTF-8.

    Raises:
        UsageError: the file cannot be read, is larger, or is not UTF-8.
    """
    raw = read_capped(
        path, MAX_ARGS_BYTES, "--args", hint="give the tool a smaller JSON object of arguments"
    )
    try:
        return raw.decode("utf-8-sig")  # a byte-order mark (Windows editors) is no JSON
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{path}: not UTF-8 (byte {exc.start + 1})", hint="save it as UTF-8 JSON"
        ) from None
