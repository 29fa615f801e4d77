"""The offline model calls tools with arguments their schemas accept, answers output schemas
with patterns and formats, and a run says when tool calls failed."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from crewkit import write_crew
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.llm.example_values import MAX_VALUE_CHARS, value_for
from mas_cli.llm.regex_sample import sample

runner = CliRunner()

PARAMETERS = {
    "account_id": {"type": "string", "pattern": "^acct-[0-9]{3,}$"},
    "email": {"type": "string", "format": "email"},
    "day": {"type": "string", "format": "date"},
    "tier": {"type": "string", "enum": ["gold", "silver"]},
    "limit": {"type": "integer", "exclusiveMinimum": 0, "maximum": 10, "multipleOf": 3},
    "ratio": {"type": "number", "minimum": 0.5, "exclusiveMaximum": 1},
    "code": {"type": "string", "pattern": "^[A-Z]{2}-\\d{4}$"},
}
TOOL = '''
import re

def lookup(account_id: str, email: str, day: str, tier: str, limit: int, ratio: float,
           code: str) -> dict:
    """A strict lookup: refuses what a real backend would refuse."""
    if not re.fullmatch(r"acct-[0-9]{3,}", account_id) or "@" not in email:
        raise ValueError(f"no such account {account_id!r}")
    if not re.fullmatch(r"\\d{4}-\\d{2}-\\d{2}", day) or not 0 < limit <= 10:
        raise ValueError("bad day or limit")
    return {"account_id": account_id, "since": day, "tier": tier}
'''


def _crew(tmp_path: Path, output_schema: dict[str, object] | None = None) -> Path:
    (tmp_path / "tools.py").write_text(TOOL, encoding="utf-8")
    schema = json.dumps(output_schema) if output_schema else "null"
    return write_crew(
        tmp_path,
        f"""
name: strict
models: {{m: offline}}
tools:
  lookup:
    function: tools.py:lookup
    kind: deterministic
    parameters: {json.dumps(PARAMETERS)}
agents: {{a: {{role: Checker, model: m, tools: [lookup]}}}}
tasks:
  - id: check
    agent: a
    prompt: "Check the account acct-4821 of jo@example.org."
    output_schema: {schema}
""",
    )


def test_offline_tool_arguments_satisfy_the_schema(tmp_path: Path) -> None:
    done = runner.invoke(app, ["run", str(_crew(tmp_path)), "--offline"])
    assert done.exit_code == 0, done.stderr
    assert "warning: tool" not in done.stderr
    assert "tool call failed" not in done.stderr
    assert "check tool lookup ok" in done.stderr


def test_offline_answers_satisfy_pattern_and_format(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "required": ["ref", "contact", "when", "score"],
        "properties": {
            "ref": {"type": "string", "pattern": "^REF-[0-9]{6}$"},
            "contact": {"type": "string", "format": "email"},
            "when": {"type": "string", "format": "date-time"},
            "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        },
    }
    done = runner.invoke(app, ["run", str(_crew(tmp_path, schema)), "--offline", "-q"])
    assert done.exit_code == 0, done.stderr
    answer = json.loads(done.stdout)
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(answer)


def test_failed_tool_calls_are_a_warning_and_counted(tmp_path: Path) -> None:
    crew = _crew(tmp_path)
    text = crew.read_text(encoding="utf-8").replace("^acct-[0-9]{3,}$", "^acct-x[0-9]{3,}$")
    crew.write_text(text, encoding="utf-8")  # now every valid argument is refused by the tool
    done = runner.invoke(app, ["run", str(crew), "--offline"])
    assert "warning: tool lookup error: " in done.stderr
    assert "no such account" in done.stderr
    assert " · 1 tool call failed · log " in done.stderr.splitlines()[-1]
    quiet = runner.invoke(app, ["run", str(crew), "--offline", "-q"])
    assert " · 1 tool call failed · log " in quiet.stderr.splitlines()[-1]


PATTERNS = st.sampled_from(
    [
        "^[a-z]+-[0-9]{2,4}$",
        "^(draft|final)/v\\d+$",
        "^[A-F0-9]{8}$",
        "^\\w+@\\w+\\.(com|org)$",
        "^[^/]+\\.json$",
        "^#[0-9a-f]{6}$",
        "x{3}y?z*",
    ]
)


@settings(max_examples=30, deadline=None)
@given(pattern=PATTERNS, words=st.text(max_size=40))
def test_made_up_strings_match_their_pattern(pattern: str, words: str) -> None:
    assert sample(pattern) is not None
    value = value_for({"type": "string", "pattern": pattern}, "field", words, {})
    Draft202012Validator({"type": "string", "pattern": pattern}).validate(value)


HUGE = [
    {"type": "string", "minLength": 50_000_000},
    {"type": "array", "minItems": 20_000_000},
    {"type": "array", "minItems": 5000, "items": {"type": "array", "minItems": 5000}},
    {
        "type": "object",
        "properties": {f"k{i}": {"type": "string", "minLength": 400_000} for i in range(5)},
    },
]


@pytest.mark.parametrize("schema", HUGE)
def test_a_schema_asking_for_more_than_an_answer_holds_gets_a_bounded_value(
    schema: dict[str, Any],
) -> None:
    tracemalloc.start()
    try:
        value = value_for(schema, "field", "Answer the question.", {})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(json.dumps(value)) <= MAX_VALUE_CHARS + 16
    assert peak < 8 * MAX_VALUE_CHARS  # a few copies of the largest value, not what was asked


def test_an_offline_run_asked_for_a_billion_items_stops_with_the_reason(tmp_path: Path) -> None:
    crew = write_crew(
        tmp_path,
        """
        name: t
        models: {m: offline}
        limits: {max_retries: 1}
        agents:
          a: {role: r, model: m}
        tasks:
          - {id: t1, agent: a, prompt: hi, output_schema: {type: array, minItems: 1000000000}}
        """,
    )
    result = runner.invoke(app, ["run", str(crew)])
    assert result.exit_code in (1, 3), result.output
    assert "internal error" not in result.output
    assert "t1" in result.stderr
