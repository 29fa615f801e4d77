"""JSON Schema validation whose regular expressions run in linear time, with RE2.

jsonschema matches `pattern` and `patternProperties` with Python's `re`, which backtracks:
`^(a+)+$` against thirty a's and a b runs for minutes while holding the GIL, so neither a
timeout nor a signal handler runs meanwhile. Every validator `mas` builds comes from
`schema_validator`, where those keywords match with RE2 (no backtracking: time linear in the
text). RE2 has no backreferences and no lookaround; `pattern_problems` finds such patterns so
`mas validate` reports them, and a schema that reaches validation anyway (a state schema file)
fails the value with the reason instead of matching it another way.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mas_cli.spec.plainschema import conforms, plain
from mas_cli.spec.refs import registry, unresolvable_error

if TYPE_CHECKING:
    from jsonschema import FormatChecker
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

SchemaPath = tuple[str | int, ...]
NOT_SCHEMAS = frozenset({"enum", "const", "default", "examples"})
"""Keywords whose values are data, not schemas: a `pattern` inside them is not a pattern."""
HINT = (
    "RE2 checks patterns in linear time and has no backreferences or lookaround: "
    "rewrite the pattern without them"
)


class PatternError(ValueError):
    """A pattern RE2 cannot compile; the message says why."""


class Checker:
    """Validates values against one schema: a value a plain schema accepts is taken as valid
    here (plainschema), and anything else goes to jsonschema, loaded the first time it is
    needed, whose errors and wording are the ones reported."""

    def __init__(self, schema: dict[str, Any], *, formats: bool) -> None:
        self.schema = schema
        self.formats = formats
        self.plain = plain(schema)
        self._full: Validator | None = None

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        """jsonschema's errors for the value (none when it is valid); a `$ref` that cannot be
        followed (refs.py) is one more error, never an exception."""
        if self.plain and conforms(self.schema, instance):
            return iter(())
        return self._followed(instance)

    def _followed(self, instance: Any) -> Iterator[ValidationError]:
        from referencing.exceptions import Unresolvable

        try:
            yield from self.full().iter_errors(instance)
        except (Unresolvable, RecursionError) as exc:
            yield unresolvable_error(exc)

    def is_valid(self, instance: Any) -> bool:
        """Whether the value is valid against the schema."""
        if self.plain:
            known = conforms(self.schema, instance)
            if known is not None:
                return known
        return next(self._followed(instance), None) is None

    def full(self) -> Validator:
        """jsonschema's validator for the schema's draft, its patterns matched by RE2."""
        if self._full is None:
            from jsonschema.validators import validator_for

            base = validator_for(self.schema)
            unevaluated = _combines_unevaluated_and_patterns(self.schema)
            guarded = _guarded(base, unevaluated_with_patterns=unevaluated)
            checker = _format_checker() if self.formats else None
            self._full = guarded(self.schema, format_checker=checker, registry=registry())
        return self._full


def schema_validator(schema: dict[str, Any], *, formats: bool = False) -> Checker:
    """A validator for the schema's draft whose regular expressions run in linear time;
    `formats`: `format` is checked too (jsonschema's FormatChecker).

    Made once per schema object (and choice of formats): a batch validates the same few schemas
    (tool parameters, output schemas, state) thousands of times, and making a validator walks
    the whole schema. The memo holds the schema itself, so its id is never another's."""
    key = (id(schema), formats)
    made = _made.get(key)
    if made is not None and made[0] is schema:
        return made[1]
    checker = Checker(schema, formats=formats)
    if len(_made) >= MEMO_SIZE:  # schemas made on the fly: the oldest goes
        _made.pop(next(iter(_made)), None)
    _made[key] = (schema, checker)
    return checker


MEMO_SIZE = 256
_made: dict[tuple[int, bool], tuple[Any, Checker]] = {}


@functools.cache
def _format_checker() -> FormatChecker:
    from jsonschema import FormatChecker

    return FormatChecker()


def pattern_problems(schema: Any, path: SchemaPath = ()) -> Iterator[tuple[SchemaPath, str]]:
    """(where, message) for each pattern in the schema RE2 cannot compile, and for combinations
    only Python's backtracking `re` could check (`unevaluatedProperties` with `patternProperties`).
    """
    for where, pattern in _patterns(schema, path):
        try:
            compiled(pattern)
        except PatternError as exc:
            yield where, f"pattern {pattern!r} is not supported: {exc}"
    if _combines_unevaluated_and_patterns(schema):
        yield path, UNEVALUATED


UNEVALUATED = (
    "unevaluatedProperties together with patternProperties cannot be checked in bounded time"
)


@functools.lru_cache(maxsize=512)
def compiled(pattern: str) -> Any:
    """The RE2 program for a JSON Schema pattern (searched, not anchored, as the spec says).

    Raises:
        PatternError: RE2 cannot compile it (a backreference, lookaround, too large...).
    """
    import re2  # only for a schema with a pattern

    options = re2.Options()
    options.log_errors = False  # the reason is raised; RE2 would also print it to stderr
    try:
        return re2.compile(_UNICODE_ESCAPE.sub(r"\1\\x{\2}", pattern), options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "cannot be compiled"
        text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        raise PatternError(text) from None


_UNICODE_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u([0-9A-Fa-f]{4})")
"""ECMA-262 (and Python) write a code point as backslash, u and four hex digits; RE2 wants
backslash, x and the digits in braces. An escaped backslash before the u is left alone."""


def _matches(pattern: str, text: str) -> bool:
    return compiled(pattern).search(text) is not None


# --- the keywords, as jsonschema's own but with RE2 ------------------------------------------


def _pattern(validator: Any, pattern: str, instance: Any, _schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "string"):
        return
    try:
        if not _matches(pattern, instance):
            yield ValidationError(f"{instance!r} does not match {pattern!r}")
    except PatternError as exc:
        yield ValidationError(f"pattern {pattern!r} cannot be checked: {exc} ({HINT})")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, _schema: Any
) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        try:
            keys = [k for k in instance if _matches(pattern, k)]
        except PatternError as exc:
            yield ValidationError(f"pattern {pattern!r} cannot be checked: {exc} ({HINT})")
            continue
        for key in keys:
            yield from validator.descend(instance[key], subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Any
) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if not validator.is_type(instance, "object"):
        return
    extras = [k for k in instance if _is_additional(k, schema)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif additional is False and extras:
        yield ValidationError(_extras_message(sorted(extras), schema))


def _extras_message(extras: list[str], schema: Any) -> str:
    """jsonschema's own wording."""
    listed = ", ".join(repr(each) for each in extras)
    if "patternProperties" in schema:
        verb = "does" if len(extras) == 1 else "do"
        patterns = ", ".join(repr(each) for each in sorted(schema["patternProperties"]))
        return f"{listed} {verb} not match any of the regexes: {patterns}"
    verb = "was" if len(extras) == 1 else "were"
    return f"Additional properties are not allowed ({listed} {verb} unexpected)"


def _is_additional(key: str, schema: Any) -> bool:
    if key in schema.get("properties", {}):
        return False
    try:
        return not any(_matches(p, key) for p in schema.get("patternProperties", {}))
    except PatternError:
        return False  # patternProperties reports the pattern itself


def _unevaluated_refused(
    validator: Any, _unevaluated: Any, instance: Any, _schema: Any
) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "object"):
        yield ValidationError(f"{UNEVALUATED} (use additionalProperties instead)")


@functools.cache
def _guarded(base: type[Validator], *, unevaluated_with_patterns: bool) -> type[Validator]:
    from jsonschema.validators import extend

    keywords = {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    }
    if unevaluated_with_patterns:  # jsonschema would match these patterns with Python's re
        keywords["unevaluatedProperties"] = _unevaluated_refused
    guarded: type[Validator] = extend(base, keywords)  # type: ignore[no-untyped-call]
    return guarded


# --- finding the patterns in a schema ---------------------------------------------------------


def _patterns(schema: Any, path: SchemaPath) -> Iterator[tuple[SchemaPath, str]]:
    """(path, pattern) for every `pattern` value and `patternProperties` key in the schema."""
    if isinstance(schema, list):
        for i, item in enumerate(schema):
            yield from _patterns(item, (*path, i))
        return
    if not isinstance(schema, dict):
        return
    for key, value in schema.items():
        if key == "pattern" and isinstance(value, str):
            yield (*path, key), value
        elif key == "patternProperties" and isinstance(value, dict):
            yield from (((*path, key, p), p) for p in value if isinstance(p, str))
        if key not in NOT_SCHEMAS:
            yield from _patterns(value, (*path, key))


def _combines_unevaluated_and_patterns(schema: Any) -> bool:
    keys = set(_keys(schema))
    return {"unevaluatedProperties", "patternProperties"} <= keys


def _keys(schema: Any) -> Iterator[str]:
    if isinstance(schema, list):
        for item in schema:
            yield from _keys(item)
    elif isinstance(schema, dict):
        for key, value in schema.items():
            yield str(key)
            if key not in NOT_SCHEMAS:
                yield from _keys(value)
