"""What the per-call shortcuts promise: the same bytes, the same scrubbing, the same checks.

llm.jsonl is searched for secrets before it is walked (recording.holds_secret), validators are
made once per schema object (patterns.schema_validator), token counts are memoised
(tokens._len): each is tried here against the slow path it stands for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mas_cli.cost import tokens
from mas_cli.events.jsonsafe import line_bytes
from mas_cli.llm.recording import LlmLog, holds_secret
from mas_cli.llm.types import CallSite, Message, Request, ToolCall
from mas_cli.redact import Secrets
from mas_cli.spec import patterns
from mas_cli.spec.model_spec import ModelSpec

TRICKY = st.text(alphabet=st.sampled_from('ab"\\\n\t\x00\x1fé\u2028/<>&'), min_size=1, max_size=4)
SECRET = st.builds(lambda core, tail: "sk" + core + tail, TRICKY, st.text(min_size=4, max_size=8))


def _with(secret: str) -> st.SearchStrategy[Any]:
    """JSON values whose strings may hold the secret, raw or JSON-escaped, anywhere."""
    escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
    text = st.one_of(
        st.text(max_size=6),
        st.builds(
            lambda a, s, b: a + s + b,
            st.text(max_size=3),
            st.sampled_from([secret, escaped]),
            st.text(max_size=3),
        ),
    )
    leaves = st.one_of(text, st.integers(), st.floats(allow_nan=False), st.none(), st.booleans())
    return st.recursive(
        leaves,
        lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(text, kids, max_size=3)),
        max_leaves=8,
    )


@settings(max_examples=300, deadline=None)
@given(st.data(), SECRET)
def test_a_line_holding_no_secret_is_one_scrub_value_leaves_alone(
    data: st.DataObject, secret: str
) -> None:
    secrets = Secrets.of(secret)
    value = data.draw(_with(secret))
    line = line_bytes(value)
    if line is None:  # msgspec cannot write it (a surrogate): the slow path takes it
        return
    if secrets.scrub_value(value) != value:
        assert holds_secret(line, secrets)


def _request(content: str) -> Request:
    model = ModelSpec.model_validate({"provider": "openai", "model": "gpt-4o-mini"})
    call = ToolCall("c1", "lookup", {"q": content})
    messages = (Message("user", content), Message("assistant", "", (call,)))
    return Request(
        model=model, system="sys", messages=messages, timeout_s=5.0, site=CallSite("a", "t")
    )


@settings(max_examples=100, deadline=None)
@given(SECRET, st.sampled_from(["raw", "escaped", "none"]))
def test_llm_jsonl_never_holds_a_secret_and_reads_back_as_the_slow_path_wrote(
    tmp_path_factory: Any, secret: str, how: str
) -> None:
    escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
    content = {"raw": f"key {secret}!", "escaped": f'{{"k": "{escaped}"}}', "none": "hello"}[how]
    secrets = Secrets.of(secret)
    path = Path(tmp_path_factory.mktemp("log")) / "llm.jsonl"
    with LlmLog(path, secrets) as log:
        log.write(_request(content), {"response": {"text": content}, "wire": {"body": [content]}})
    text = path.read_text(encoding="utf-8")
    for form in secrets.values:
        assert form not in text
    record = json.loads(text)
    expected = secrets.scrub_value({"text": content})
    assert record["response"] == expected
    assert record["request"]["messages"][0]["content"] == expected["text"]


def test_a_validator_is_made_once_per_schema_object_and_never_serves_another() -> None:
    first = {"type": "object", "required": ["a"]}
    assert patterns.schema_validator(first) is patterns.schema_validator(first)
    # Many short-lived schemas (ids reused as they are freed): each validator is its own
    # schema's, and the memo stays bounded.
    for n in range(patterns.MEMO_SIZE * 3):
        schema = {"type": "object", "required": [f"k{n}"]}
        validator = patterns.schema_validator(schema)
        assert validator.schema is schema
        assert validator.is_valid({f"k{n}": 1})
        assert not validator.is_valid({f"k{n + 1}": 1})
    assert len(patterns._made) <= patterns.MEMO_SIZE


def test_memoised_token_counts_equal_the_tokenizer_and_stay_bounded() -> None:
    enc = tokens._encoder("o200k_base")  # mas's own: built from its bundled ranks, offline
    texts = [
        f"item {n}: the same words again and again {n % 7}" for n in range(tokens.MEMO_SIZE + 100)
    ]
    for text in texts + texts[:50]:
        assert tokens._len(enc, text) == len(enc.encode_ordinary(text))
    assert len(tokens._counted) <= tokens.MEMO_SIZE
    long = "word " * tokens.MEMO_MAX_CHARS
    assert tokens._len(enc, long) == len(enc.encode_ordinary(long))
    assert ("o200k_base", long) not in tokens._counted
