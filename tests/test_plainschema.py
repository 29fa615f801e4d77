"""Plain schemas are judged without jsonschema (issue 19); every yes must be jsonschema's yes.

`plain` may only say True of a schema jsonschema's metaschema accepts, and `conforms` must give
jsonschema's answer for every value. Hypothesis draws schemas from the plain keywords, with
values both well-formed and not, and values of every JSON shape (NaN, 1 against 1.0 against
True, nested lists and objects) to compare the two on.
"""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from mas_cli.spec.patterns import schema_validator
from mas_cli.spec.plainschema import conforms, plain

KEYS = st.sampled_from(["a", "b", "id", "x y"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, 1.0, -1.5, 2.5, math.nan, math.inf, 1e300]),
    st.sampled_from(["", "a", "ab", "abc", "é", "1"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=8,
)
TYPE_NAMES = st.sampled_from(
    ["array", "boolean", "integer", "null", "number", "object", "string", "float", "int"]
)
BOUNDS = st.one_of(st.integers(-2, 4), st.sampled_from([0.5, 2.0, -1.0, math.nan, True, "3"]))


def _keyword(schemas: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[str, Any]]:
    return st.one_of(
        st.tuples(st.just("type"), st.one_of(TYPE_NAMES, st.lists(TYPE_NAMES, max_size=3))),
        st.tuples(st.just("enum"), st.lists(VALUES, max_size=3)),
        st.tuples(st.just("const"), VALUES),
        st.tuples(st.just("properties"), st.dictionaries(KEYS, schemas, max_size=3)),
        st.tuples(st.just("required"), st.lists(st.one_of(KEYS, st.integers(0, 1)), max_size=3)),
        st.tuples(st.just("additionalProperties"), schemas),
        st.tuples(st.just("items"), st.one_of(schemas, st.lists(schemas, max_size=2))),
        st.tuples(
            st.sampled_from(["minItems", "maxItems", "minLength", "maxLength"]),
            st.one_of(st.integers(-1, 3), st.just(1.0)),
        ),
        st.tuples(
            st.sampled_from(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]),
            BOUNDS,
        ),
        st.tuples(st.sampled_from(["title", "description", "$comment"]), st.one_of(KEYS, VALUES)),
        st.tuples(st.sampled_from(["default", "examples"]), VALUES),
        st.tuples(st.sampled_from(["format", "pattern", "$ref", "uniqueItems"]), KEYS),
    )


SCHEMAS = st.recursive(
    st.one_of(st.booleans(), st.just({})),
    lambda inner: st.lists(_keyword(inner), max_size=4).map(dict),
    max_leaves=6,
)


def _valid_json_schema(schema: Any) -> bool:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError:
        return False
    return True


@settings(max_examples=600, deadline=None)
@given(SCHEMAS, st.lists(VALUES, min_size=1, max_size=4))
def test_a_plain_schema_is_valid_and_judges_values_as_jsonschema_does(
    schema: Any, values: list[Any]
) -> None:
    if not plain(schema):
        return
    assert _valid_json_schema(schema), schema
    validator = Draft202012Validator(schema)
    for value in values:
        assert conforms(schema, value) == validator.is_valid(value), (schema, value)


@settings(max_examples=300, deadline=None)
@given(SCHEMAS, VALUES)
def test_the_checker_reports_jsonschemas_errors_word_for_word(schema: Any, value: Any) -> None:
    """Whatever path a schema takes, the errors are jsonschema's (through mas's RE2 keywords)."""
    unresolvable = "$ref" in repr(schema)  # a reference to nowhere: jsonschema raises
    if unresolvable or not _valid_json_schema(schema) or not isinstance(schema, dict):
        return
    checker = schema_validator(schema)
    full = checker.full()
    assert [e.message for e in checker.iter_errors(value)] == [
        e.message for e in full.iter_errors(value)
    ]
    assert checker.is_valid(value) == full.is_valid(value)


def test_plain_covers_the_example_crews_schemas() -> None:
    """What the shortcut is for: every schema fraud-review declares is plain."""
    from pathlib import Path

    from mas_cli.spec.loader import load_crew

    spec = load_crew(Path(__file__).parents[1] / "crews" / "fraud-review" / "crew.yaml").spec
    schemas = [t.output_schema for t in spec.tasks if t.output_schema is not None]
    schemas += list(spec.state.values())
    assert schemas
    assert all(plain(s) for s in schemas)


@pytest.mark.parametrize(
    ("schema", "value", "valid"),
    [
        ({"type": "integer"}, 1.0, True),
        ({"type": "integer"}, True, False),
        ({"enum": [1]}, True, False),
        ({"enum": [[1, 0]]}, [True, False], False),
        ({"const": 1}, 1.0, True),
        ({"minimum": 0}, math.nan, True),
        ({"maximum": 0}, math.nan, True),
        ({"exclusiveMaximum": 1}, 1, False),
        ({"minLength": 2}, "é", False),
        ({"properties": {"a": False}}, {"b": 1}, True),
        ({"additionalProperties": False, "properties": {"a": {}}}, {"a": 1, "b": 2}, False),
        ({"items": {"type": "string"}}, ["a", 1], False),
        ({"required": ["a"]}, [], True),
    ],
)
def test_jsonschemas_corners(schema: dict[str, Any], value: Any, valid: bool) -> None:
    assert plain(schema)
    assert Draft202012Validator(schema).is_valid(value) is valid
    assert conforms(schema, value) is valid


def test_values_json_does_not_make_go_to_jsonschema() -> None:
    from decimal import Decimal

    assert conforms({"type": "number"}, Decimal("1.5")) is None
    assert schema_validator({"type": "number"}).is_valid(Decimal("1.5"))
    assert conforms({"type": "array"}, (1, 2)) is None


def test_a_run_and_validate_of_fraud_review_import_no_jsonschema() -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['mas', 'validate', 'crews/fraud-review/crew.yaml']\n"
        "try:\n    runpy.run_module('mas_cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('jsonschema', 'attr')))\n"
    )
    root = __import__("pathlib").Path(__file__).parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stderr
