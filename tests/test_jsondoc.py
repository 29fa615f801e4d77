"""The generic JSON document layer: values at a path, exact lines, bounded on hostile input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mas_cli.events.formats.jsondoc import (
    MAX_DEPTH,
    MAX_VALUE_BYTES,
    iter_values,
    looks_like_document,
)
from mas_cli.events.formats.source import BadLines

RECORDS = [{"a": 1}, {"b": 'x]]]]"[[[[{{'}, {"c": [1, 2, {"d": None}]}, {"e": "\\"}]


def _read(doc: bytes, path: str, pieces: int = 1) -> tuple[list[tuple[int, Any]], BadLines]:
    bad = BadLines()
    size = max(len(doc) // pieces, 1)
    chunks = [doc[i : i + size] for i in range(0, len(doc), size)]
    return list(iter_values(chunks, path, "doc.json", bad)), bad


def _end_lines(text: str, values: list[Any]) -> list[int]:
    """The line each top-level list element ends on, found the slow way."""
    decoder, lines, at = json.JSONDecoder(), [], text.index("[") + 1
    for _ in values:
        while text[at] in " \n,":
            at += 1
        _, at = decoder.raw_decode(text, at)
        lines.append(text.count("\n", 0, at) + 1)
    return lines


@pytest.mark.parametrize("indent", [None, 1, 4])
@pytest.mark.parametrize("pieces", [1, 3, 50])
def test_a_list_pretty_or_not_gives_each_record_and_its_line(
    indent: int | None, pieces: int
) -> None:
    text = json.dumps(RECORDS, indent=indent) + "\n"
    values, bad = _read(text.encode(), "item", pieces)
    assert [v for _, v in values] == RECORDS
    assert [line for line, _ in values] == _end_lines(text, RECORDS)
    assert bad.count == 0


def test_one_object_records_under_a_key_and_concatenated_documents() -> None:
    doc = b'{"data": [{"x": 1}, {"x": 2}]}\n{"data": [{"x": 3}]}\n'
    values, bad = _read(doc, "data.item")
    assert values == [(1, {"x": 1}), (1, {"x": 2}), (2, {"x": 3})]
    whole, _ = _read(doc, "")
    assert [v for _, v in whole] == [{"data": [{"x": 1}, {"x": 2}]}, {"data": [{"x": 3}]}]
    assert bad.count == 0


def test_a_truncated_document_reads_what_it_could_and_counts_the_rest() -> None:
    text = json.dumps(RECORDS, indent=2)
    values, bad = _read(text[: text.index('"c"')].encode(), "item")
    assert [v for _, v in values] == RECORDS[:2]
    assert bad.count == 1
    assert "ends early" in bad.first[0].reason


def test_garbage_after_records_is_one_bad_entry_with_its_line() -> None:
    values, bad = _read(b'[{"a": 1},\n nope]', "item")
    assert values == [(1, {"a": 1})]
    assert (bad.count, bad.first[0].line) == (1, 2)
    assert "not JSON" in bad.first[0].reason


def test_deep_nesting_stops_before_the_parser_sees_it() -> None:
    deep = b"[" * 5_000_000  # ijson alone takes gigabytes for this (the depth squared)
    values, bad = _read(b'[{"a": 1},\n' + deep, "item", pieces=40)
    assert values == [(1, {"a": 1})]
    assert f"deeper than {MAX_DEPTH}" in bad.first[0].reason


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps([{"s": "[" * (MAX_DEPTH * 4) + '\\"' + "{" * 100}])
    values, bad = _read(text.encode(), "item", pieces=97)
    assert len(values) == 1
    assert bad.count == 0


def test_a_huge_string_stops_at_the_record_bound() -> None:
    doc = b'[{"a": 1},\n{"big": "' + b"x" * (MAX_VALUE_BYTES + 1) + b'"}, {"c": 3}]'
    values, bad = _read(doc, "item", pieces=8)
    assert values == [(1, {"a": 1})]
    assert "larger than" in bad.first[0].reason


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=8), inner, max_size=4)
            ),
            max_leaves=20,
        ),
        max_size=8,
    ),
    st.integers(1, 30),
)
def test_any_list_read_in_any_pieces_is_read_whole(records: list[Any], pieces: int) -> None:
    text = json.dumps(records, indent=1)
    values, bad = _read(text.encode(), "item", pieces)
    assert [v for _, v in values] == records
    assert bad.count == 0


def test_a_document_is_told_from_json_lines() -> None:
    assert looks_like_document(b'{\n  "resourceSpans": [')
    assert looks_like_document(b'[{"a": 1}, {"b"')  # one line, cut by the head
    assert not looks_like_document(b'{"a": 1}\n{"a": 2}\n')
    assert not looks_like_document(b"2026-12-06 INFO agent scorer\n")
