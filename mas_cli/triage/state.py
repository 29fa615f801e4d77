"""Check a shared-state snapshot against its schema, and with a run log, how it was written.

The snapshot is ours (`{key: {value, version, writer}}`, as state.json holds it) or any JSON
object (`{key: value}`). The schema is a crew's `state:` section or a JSON Schema file (an
object schema's `properties` and `required`, or a plain `{key: schema}` map).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError

from mas_cli.errors import LogFormatError
from mas_cli.events.jsonsafe import non_finite
from mas_cli.events.text import loads
from mas_cli.spec.findings import did_you_mean
from mas_cli.spec.patterns import schema_validator

JsonSchema = dict[str, Any]
ENTRY_KEYS = {"value", "version", "writer"}
JSON_TYPES = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


@dataclass(frozen=True)
class Entry:
    """One key of a snapshot: its value and, in our snapshots, version and last writer."""

    value: Any
    version: int | None = None
    writer: str | None = None


@dataclass(frozen=True)
class Schema:
    """Per-key JSON Schemas, the keys that must be present, and who may write each key."""

    keys: dict[str, JsonSchema]
    required: frozenset[str] = frozenset()
    writers: dict[str, frozenset[str]] | None = None


@dataclass(frozen=True)
class StateProblem:
    """One thing wrong with a key, and how to fix it."""

    key: str
    kind: str
    message: str
    hint: str = ""
    writer: str | None = None
    where: str = ""


@dataclass
class StateReport:
    """Every problem found in a snapshot (and its log)."""

    source: str
    keys: int = 0
    problems: list[StateProblem] = field(default_factory=list)
    log: str | None = None
    schema: str = ""
    """Where the schema came from: `crew crew.yaml`, `schema schema.json`."""


def load_snapshot(path: Path) -> dict[str, Entry]:
    """A state file as entries: ours keep version and writer, a plain object only values.

    Raises:
        LogFormatError: the file cannot be read, is not JSON, or is not a JSON object.
    """
    data = _read_json(path, "state file")
    if not isinstance(data, dict):
        raise LogFormatError(
            f"{path}: expected a JSON object of state keys, got "
            f"{JSON_TYPES.get(type(data), 'a value')}"
        )
    if data and all(
        isinstance(v, dict) and "value" in v and set(v) <= ENTRY_KEYS for v in data.values()
    ):
        return {k: Entry(v["value"], v.get("version"), v.get("writer")) for k, v in data.items()}
    return {k: Entry(v) for k, v in data.items()}


def load_schema_file(path: Path) -> Schema:
    """A JSON Schema file: an object schema (properties, required) or a {key: schema} map.

    Raises:
        LogFormatError: not JSON, not valid JSON Schema (checked against its metaschema), or
            naming no state keys.
    """
    data = _read_json(path, "schema file")
    if not isinstance(data, dict):
        raise LogFormatError(f"{path}: expected a JSON Schema object")
    if SCHEMA_WORDS.intersection(data):  # an object schema
        _check_schema(path, data, ())
        keys = data.get("properties")
        if not isinstance(keys, dict) or not keys:
            raise LogFormatError(f"{path}: the schema names no state keys", hint=_KEYS_HINT)
        return Schema(dict(keys), frozenset(data.get("required", [])))
    for key, schema in data.items():
        if not isinstance(schema, dict | bool):
            raise LogFormatError(f"{path}: {key}: expected a JSON Schema", hint=_KEYS_HINT)
        _check_schema(path, schema, (key,))
    return Schema(dict(data))


SCHEMA_WORDS = frozenset(
    [
        "$schema",
        "$id",
        "$ref",
        "$defs",
        "definitions",
        "type",
        "properties",
        "required",
        "additionalProperties",
        "patternProperties",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "enum",
        "const",
    ]
)
_KEYS_HINT = (
    'give an object schema with the keys under properties ({"type": "object", "properties": '
    '{"decision": {"type": "string"}}}), or a {key: schema} map'
)


def _check_schema(path: Path, schema: Any, at: tuple[str, ...]) -> None:
    from mas_cli.spec.checks import schema_problems

    for problem in schema_problems(schema, at):
        where = ".".join(str(p) for p in problem.path)
        raise LogFormatError(
            f"{path}: {where + ': ' if where else ''}{problem.message}",
            hint=problem.hint or "see https://json-schema.org/understanding-json-schema",
        )


MAX_STATE_BYTES = 64 << 20
"""The most of a state or schema file read: a run's state.json is far smaller, and the whole
file is parsed at once (a 60 MB one peaks at about 230 MB), so /dev/zero never fills memory."""


def _read_json(path: Path, what: str) -> Any:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_STATE_BYTES + 1)
    except OSError as exc:
        raise LogFormatError(f"{path}: the {what} cannot be read ({exc.strerror})") from None
    if len(raw) > MAX_STATE_BYTES:
        raise LogFormatError(
            f"{path}: the {what} is larger than {MAX_STATE_BYTES:,} bytes, the most "
            "mas triage state reads",
            hint="check that it is the file you meant (a run's state.json is far smaller)",
        )
    try:
        return loads(raw.decode("utf-8-sig"))  # a BOM (PowerShell) is not content
    except (ValueError, UnicodeDecodeError) as exc:
        raise LogFormatError(f"{path}: the {what} is not valid JSON ({exc})") from None


def check_snapshot(snapshot: dict[str, Entry], schema: Schema) -> list[StateProblem]:
    """Missing keys, nulls, values that break their schema, and keys the schema does not know."""
    problems = [_missing(key) for key in sorted(schema.required - set(snapshot))]
    for key, entry in snapshot.items():
        if non_finite(entry.value) is not None:
            problems.append(_non_finite(key, entry))
        elif key not in schema.keys:
            problems.append(_unknown(key, entry, schema))
        else:
            problems.extend(_value_problems(key, entry, schema.keys[key]))
    return problems


def _missing(key: str) -> StateProblem:
    return StateProblem(
        key, "missing", f"{key}: required but absent", "check which task should write it (writes:)"
    )


def _non_finite(key: str, entry: Entry) -> StateProblem:
    path, number = non_finite(entry.value) or ("", 0.0)
    where = key + (path if path.startswith("[") or not path else f".{path}")
    return StateProblem(
        key,
        "not_json",
        f"{where}: {number} is not a finite number: not JSON (jq and most readers refuse it)",
        "find the writer that produced it; mas refuses non-finite numbers in state writes",
        entry.writer,
    )


def _unknown(key: str, entry: Entry, schema: Schema) -> StateProblem:
    close = did_you_mean(key, schema.keys) or ""
    return StateProblem(
        key,
        "unknown",
        f"{key}: not a key of the state schema ({close})"
        if close
        else f"{key}: not a key of the state schema",
        "an agent may still write an old field name: rename it in the task's writes: or "
        "output_schema, "
        "or declare it under state:",
        entry.writer,
    )


def _value_problems(key: str, entry: Entry, schema: JsonSchema) -> list[StateProblem]:
    errors = sorted(schema_validator(schema).iter_errors(entry.value), key=lambda e: str(e.path))
    if not errors:
        return []
    if entry.value is None:
        never = " (never written: version 0)" if entry.version == 0 else ""
        return [
            StateProblem(
                key,
                "null",
                f"{key}: null{never}",
                "check the task that writes it ran and its output validated",
                entry.writer,
            )
        ]
    return [_schema_problem(key, entry, errors[0])]


def _schema_problem(key: str, entry: Entry, error: ValidationError) -> StateProblem:
    value, shown = error.instance, json.dumps(error.instance, default=str)[:80]
    where = key + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.path)
    if error.validator == "type":
        wanted: Any = error.validator_value
        expected = wanted if isinstance(wanted, str) else " or ".join(str(w) for w in wanted)
        got = JSON_TYPES.get(type(value), "a value")
        message = f"{where}: {shown} is {got}, expected {_article(expected)}"
        return StateProblem(
            key,
            "type",
            message,
            "fix the writer's output_schema so the value has the declared type",
            entry.writer,
        )
    if error.validator == "enum":
        allowed: Any = error.validator_value
        options = [str(o) for o in allowed]
        close = did_you_mean(str(value), options) or ""
        message = f"{where}: {shown} is not one of {', '.join(options)}" + (
            f" ({close})" if close.startswith("did") else ""
        )
        return StateProblem(
            key,
            "enum",
            message,
            "constrain the writer's output_schema to the same enum",
            entry.writer,
        )
    if error.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        side = "below the" if "inimum" in str(error.validator) else "above the"
        message = f"{where}: {shown} is {side} {error.validator} {error.validator_value}"
        return StateProblem(
            key,
            "range",
            message,
            "check the writer's units and scale (a percentage where a fraction is expected?)",
            entry.writer,
        )
    return StateProblem(
        key,
        "schema",
        f"{where}: {error.message}",
        "make the writer's output_schema match the state schema",
        entry.writer,
    )


def _article(type_name: str) -> str:
    return f"an {type_name}" if type_name[:1] in "aeiou" else f"a {type_name}"
