"""NaN and ±Infinity are refused wherever values are validated, and never written to a file.

Python reads `NaN` as a number and jsonschema lets it through `minimum: 0, maximum: 1` (every
comparison with NaN is false), so each check here would pass without its own refusal. Files
are read back with a strict parser that rejects the bare constants, as jq does.
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import pytest
from crewkit import events, of_type, run, write_crew
from toolcrew import tools_of
from toolcrew import write_crew as write_tool_crew
from typer.testing import CliRunner

from mas_cli.cli import app
from mas_cli.engine.state import SharedState
from mas_cli.events.jsonsafe import dumps
from mas_cli.llm.openai_wire import parse_arguments
from mas_cli.spec.loader import load_crew
from mas_cli.tools.cache import ToolCache, call_cached

NON_FINITE = [math.nan, math.inf, -math.inf]
CREW = """
    name: scores
    state: {fraud_score: {type: number, minimum: 0, maximum: 1}}
    agents:
      scorer:
        role: Scorer
        model: offline
        script: [{data: {fraud_score: .nan}}, {data: {fraud_score: 0.25}}]
    tasks:
      - id: score
        agent: scorer
        prompt: Score.
        output_schema: {type: object, properties: {fraud_score: {type: number}}}
        writes: [fraud_score]
"""


def strict(text: str) -> Any:
    """JSON as the spec has it: NaN, Infinity and -Infinity are errors."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("number", NON_FINITE)
def test_a_state_write_of_a_non_finite_number_is_refused(tmp_path: Path, number: float) -> None:
    crew = load_crew(write_crew(tmp_path / "c", CREW)).spec
    state = SharedState(crew)
    refused = state.write("fraud_score", number, 0, "score")
    assert not refused.accepted
    assert "is not a finite number" in (refused.reason or "")
    nested = SharedState(crew.model_copy(update={"state": {"fraud_score": {}}}))
    assert not nested.write("fraud_score", {"a": [1, number]}, 0, "score").accepted
    assert state.write("fraud_score", 0.5, 0, "score").accepted


def test_a_nan_answer_is_reasked_and_never_reaches_state_or_output(
    tmp_path: Path, clean_env: Path
) -> None:
    result = run(write_crew(tmp_path / "c", CREW), clean_env)
    assert result.status == "ok"
    retry = of_type(events(result), "retry")[0]
    assert retry["what"] == "output_validation"
    assert (
        retry["reason"] == "fraud_score: nan is not a finite number (NaN and Infinity are not JSON)"
    )
    folder = Path(result.run_dir)
    state = strict((folder / "state.json").read_text(encoding="utf-8"))
    assert state["fraud_score"]["value"] == 0.25
    assert strict((folder / "output.json").read_text(encoding="utf-8"))["status"] == "ok"
    for line in (folder / "llm.jsonl").read_text(encoding="utf-8").splitlines():
        strict(line)


@pytest.mark.parametrize("number", NON_FINITE)
def test_tool_arguments_with_a_non_finite_number_are_refused(tmp_path: Path, number: float) -> None:
    tools = tools_of(write_tool_crew(tmp_path / "crew"))

    async def call() -> Any:
        with ToolCache(tmp_path / "cache") as cache:
            return await call_cached(tools["lookup"], {"query": "q", "ratio": number}, cache)

    done = asyncio.run(call())
    assert not done.result.ok
    assert "ratio: " in (done.result.error or "")
    assert "is not a finite number" in (done.result.error or "")
    assert not (tmp_path / "crew" / "calls.txt").exists()  # the tool never ran


def test_our_json_writer_never_writes_a_bare_constant() -> None:
    value = {"a": math.nan, "b": [math.inf, {"c": -math.inf}], "d": 1.5}
    assert strict(dumps(value)) == {"a": None, "b": [None, {"c": None}], "d": 1.5}
    assert dumps({"d": 1.5}, indent=None) == '{"d": 1.5}'


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_triage_state_flags_a_non_finite_number(tmp_path: Path, constant: str) -> None:
    crew = write_crew(tmp_path / "c", CREW)
    path = tmp_path / "state.json"
    path.write_text(
        f'{{"fraud_score": {{"value": {{"scores": [0.5, {constant}]}}, "version": 1, '
        '"writer": "score"}}',
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["triage", "state", str(path), "--crew", str(crew), "--json"])
    assert result.exit_code == 1, result.stdout
    problems = json.loads(result.stdout)["problems"]
    assert [(p["key"], p["kind"]) for p in problems] == [("fraud_score", "not_json")]
    assert problems[0]["message"].startswith("fraud_score.scores[1]: ")
    assert "is not a finite number" in problems[0]["message"]


@pytest.mark.parametrize("raw", ['{"ratio": NaN}', '{"a": [1, Infinity]}', {"x": -math.inf}])
def test_a_models_tool_call_arguments_with_nan_are_refused_at_the_wire(raw: Any) -> None:
    # Python's json reads NaN; the SDKs hand over such dicts: neither reaches a tool or a log.
    arguments, problem = parse_arguments(raw)
    assert arguments == {}
    assert "is not a finite number" in (problem or "")
    assert parse_arguments('{"ratio": 0.5}') == ({"ratio": 0.5}, None)
