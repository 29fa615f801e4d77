"""The plain JSON Schemas most crews write, checked without jsonschema.

Importing jsonschema (its seven validator classes built with attrs, its metaschema registry)
costs a run or `mas validate` about a fifth of its start-up. Most schemas in a crew use a few
keywords: `type`, `properties`, `required`, `additionalProperties`, `items`, `enum`, `const`,
bounds on numbers, strings and arrays, and annotations. For such a schema, `plain` says it is
valid JSON Schema (draft 2020-12, what jsonschema picks for a schema without `$schema`), and
`conforms` says whether a value is valid against it, with jsonschema's semantics keyword by
keyword (its `type` checks, its `equal`, its comparisons, NaN included). Anything else (another
keyword, `$schema`, a value of an odd type, a keyword with a value out of the usual) is not
plain, and jsonschema decides. Only yes-answers are taken from here: whatever is refused or
found invalid is handed to jsonschema, which says why in its own words.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})
_JSON = (dict, list, str, int, float, bool, type(None))


class _Undecided(Exception):
    """A value of a type JSON does not make: jsonschema decides."""


def plain(schema: Any) -> bool:
    """True when the schema uses only the keywords here, each with a well-formed value (so it
    is valid JSON Schema); False says nothing about its validity."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict):
        return False
    return all(_WELL_FORMED.get(key, _never)(value) for key, value in schema.items())


def conforms(schema: Any, instance: Any) -> bool | None:
    """Whether `instance` is valid against a `plain` schema, as jsonschema would judge it; None
    when it cannot be told here (a value no JSON document makes)."""
    try:
        return _conforms(schema, instance)
    except _Undecided:
        return None


def _conforms(schema: Any, instance: Any) -> bool:
    if isinstance(schema, bool):
        return schema
    if not isinstance(instance, _JSON):
        raise _Undecided
    return all(_CHECKS[key](value, instance, schema) for key, value in schema.items())


# --- which schemas are plain ----------------------------------------------------------------


def _never(_value: Any) -> bool:
    return False


def _count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _number(value: Any) -> bool:
    return type(value) is int or (type(value) is float and not math.isnan(value))


def _types(value: Any) -> bool:
    if isinstance(value, str):
        return value in TYPES
    listed = isinstance(value, list) and value and all(isinstance(t, str) for t in value)
    return bool(listed) and set(value) <= TYPES and len(set(value)) == len(value)


def _names(value: Any) -> bool:
    strings = isinstance(value, list) and all(isinstance(n, str) for n in value)
    return strings and len(set(value)) == len(value)


def _subschemas(value: Any) -> bool:
    return isinstance(value, dict) and all(plain(s) for s in value.values())


_WELL_FORMED: dict[str, Callable[[Any], bool]] = {
    "type": _types,
    "enum": lambda v: isinstance(v, list) and len(v) > 0,
    "const": lambda _v: True,
    "properties": _subschemas,
    "required": _names,
    "additionalProperties": plain,
    "items": plain,
    "minItems": _count,
    "maxItems": _count,
    "minLength": _count,
    "maxLength": _count,
    "minimum": _number,
    "maximum": _number,
    "exclusiveMinimum": _number,
    "exclusiveMaximum": _number,
    "title": lambda v: isinstance(v, str),
    "description": lambda v: isinstance(v, str),
    "$comment": lambda v: isinstance(v, str),
    "default": lambda _v: True,
    "examples": lambda v: isinstance(v, list),
}


# --- whether a value conforms: jsonschema's keywords, without their messages ---------------


def _is_type(instance: Any, name: str) -> bool:
    if name == "integer":
        return not isinstance(instance, bool) and (
            isinstance(instance, int) or (isinstance(instance, float) and instance.is_integer())
        )
    if name == "number":
        return not isinstance(instance, bool) and isinstance(instance, int | float)
    kinds: dict[str, Any] = {
        "array": list,
        "boolean": bool,
        "object": dict,
        "string": str,
        "null": type(None),
    }
    return isinstance(instance, kinds[name])


def _number_instance(instance: Any) -> bool:
    return _is_type(instance, "number")


def equal(one: Any, two: Any) -> bool:
    """jsonschema's `equal`: True is not 1 and False is not 0, at any depth."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(equal(i, j) for i, j in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(k in two and equal(v, two[k]) for k, v in one.items())
    if isinstance(one, bool) or isinstance(two, bool):
        return False  # `one is two` already took True is True and False is False
    return bool(one == two)


def _additional(value: Any, instance: Any, schema: dict[str, Any]) -> bool:
    if not isinstance(instance, dict):
        return True
    known = schema.get("properties", {})
    extras = [key for key in instance if key not in known]
    return all(_conforms(value, instance[key]) for key in extras)


def _types_of(value: Any, instance: Any, _schema: Any) -> bool:
    return any(_is_type(instance, name) for name in ([value] if isinstance(value, str) else value))


def _properties(value: Any, instance: Any, _schema: Any) -> bool:
    if not isinstance(instance, dict):
        return True
    return all(_conforms(sub, instance[key]) for key, sub in value.items() if key in instance)


def _items(value: Any, instance: Any, _schema: Any) -> bool:
    return not isinstance(instance, list) or all(_conforms(value, item) for item in instance)


_CHECKS: dict[str, Callable[[Any, Any, Any], bool]] = {
    "type": _types_of,
    "enum": lambda v, i, _s: any(equal(each, i) for each in v),
    "const": lambda v, i, _s: equal(i, v),
    "properties": _properties,
    "required": lambda v, i, _s: not isinstance(i, dict) or all(name in i for name in v),
    "additionalProperties": _additional,
    "items": _items,
    "minItems": lambda v, i, _s: not (isinstance(i, list) and len(i) < v),
    "maxItems": lambda v, i, _s: not (isinstance(i, list) and len(i) > v),
    "minLength": lambda v, i, _s: not (isinstance(i, str) and len(i) < v),
    "maxLength": lambda v, i, _s: not (isinstance(i, str) and len(i) > v),
    # jsonschema's own comparisons, negated: NaN is below and above nothing, so it passes
    "minimum": lambda v, i, _s: not (_number_instance(i) and i < v),
    "maximum": lambda v, i, _s: not (_number_instance(i) and i > v),
    "exclusiveMinimum": lambda v, i, _s: not (_number_instance(i) and i <= v),
    "exclusiveMaximum": lambda v, i, _s: not (_number_instance(i) and i >= v),
    "title": lambda _v, _i, _s: True,
    "description": lambda _v, _i, _s: True,
    "$comment": lambda _v, _i, _s: True,
    "default": lambda _v, _i, _s: True,
    "examples": lambda _v, _i, _s: True,
}
