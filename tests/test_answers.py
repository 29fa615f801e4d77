"""Reading a final answer: JSON found inside the wrappers models put around it, and any text
read without an exception."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mas_cli.engine.answers import extract_json

VALUES = st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=4)
PROSE = st.text(alphabet=st.characters(blacklist_characters="{}[]`<>"), max_size=40)


@settings(max_examples=150, deadline=None)
@given(value=VALUES, before=PROSE, after=PROSE, think=PROSE, fenced=st.booleans())
def test_the_json_inside_think_fence_and_prose_is_found(
    value: dict[str, object], before: str, after: str, think: str, fenced: bool
) -> None:
    body = json.dumps(value)
    if fenced:
        body = f"```json\n{body}\n```"
    text = f"<think>{think}</think>{before} {body} {after}"
    found, stripped = extract_json(text)
    assert json.loads(found) == value
    assert stripped is not None
    assert stripped.startswith("a <think> block")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_read_without_an_exception(text: str) -> None:
    found, _ = extract_json(text)
    assert isinstance(found, str)


def test_a_plain_json_answer_strips_nothing() -> None:
    assert extract_json(' {"a": 1} ') == ('{"a": 1}', None)


def test_an_answer_full_of_unclosed_braces_is_read_quickly() -> None:
    found, stripped = extract_json('{"a": [' * 5000)
    assert stripped is None
    assert found.startswith('{"a"')
