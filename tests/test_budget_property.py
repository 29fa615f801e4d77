"""The budget property: against a server that always writes the largest output it is allowed
and counts input the most it honestly can, random crews (parallel tasks, tool calls, params,
structured output, limits) never pass max_cost_usd, max_tokens, max_llm_calls or max_tool_calls
as the server counts them. Both wire formats. Bounded: a few seconds each."""

from __future__ import annotations

import asyncio
import json
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fakeserver import ANTHROPIC, OPENAI, FakeServer, Greedy, honest_input_tokens
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mas_cli.cost.prices import Tokens, price_book
from mas_cli.engine.run import RunOptions, run_crew
from mas_cli.errors import SpecError
from mas_cli.llm.input_bound import input_bound, wire_body
from mas_cli.llm.types import Message, Request, ToolCall, ToolSchema
from mas_cli.spec.loader import load_crew
from mas_cli.spec.model_spec import WIDENING_PARAMS, ModelSpec

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5"}
PRICES = {"openai": {"input": 0.15, "output": 0.6}, "anthropic": {"input": 3, "output": 15}}
TOOLS = '''
import pathlib


def send(text: str) -> str:
    """Send a message: a side effect, one line in sent.txt per call."""
    with pathlib.Path(__file__).with_name("sent.txt").open("a") as f:
        f.write(text + "\\n")
    return "sent"
'''
PARAMS = [{}, {"seed": 7}, {"top_p": 0.9}, {"n": 1}, {"max_tokens": 2000}, {"n": 5}]
PARAMS += [{"max_completion_tokens": 9000}]
SCHEMA = {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}
prose = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="{}"), max_size=300
)


@st.composite
def crews(draw: st.DrawFn) -> dict[str, Any]:
    """A random crew: its spec, and how the greedy server plays its tools."""
    tasks = draw(st.integers(1, 6))
    model = {"max_tokens": draw(st.one_of(st.none(), st.integers(16, 3000)))}
    limits = {
        "max_cost_usd": draw(st.floats(0.001, 0.2)),
        "max_tokens": draw(st.integers(1_000, 80_000)),
        "max_llm_calls": draw(st.integers(1, 12)),
        "max_tool_calls": draw(st.integers(1, 10)),
        "max_concurrency": draw(st.integers(1, 6)),
        "max_turns": 6,
        "max_identical_tool_calls": 50,
    }
    return {
        "model": {k: v for k, v in model.items() if v is not None},
        "params": draw(st.sampled_from(PARAMS)),
        "limits": limits,
        "prompts": [draw(prose) for _ in range(tasks)],
        "schema": draw(st.booleans()),
        "greedy": Greedy(
            tool="send",
            calls_per_turn=draw(st.integers(1, 6)),
            tool_turns=draw(st.integers(0, 3)),
        ),
    }


def write(folder: Path, server: FakeServer, wire: str, crew: dict[str, Any]) -> Path:
    (folder / "tools.py").write_text(TOOLS, encoding="utf-8")
    base = server.url + "/v1" if wire == "openai" else server.url
    task = {"agent": "a", **({"output_schema": SCHEMA} if crew["schema"] else {})}
    doc = {
        "name": "greedy",
        "process": "parallel",
        "models": {
            "m": {
                "provider": wire,
                "model": MODELS[wire],
                "base_url": base,
                "api_key_env": "MAS_TEST_KEY",
                "params": crew["params"],
                **crew["model"],
            }
        },
        "prices": {"m": PRICES[wire]},  # a base_url server: priced by the crew file
        "limits": crew["limits"],
        "tools": {"send": {"function": "tools.py:send", "kind": "side_effect"}},
        "agents": {"a": {"role": "Agent", "model": "m", "tools": ["send"]}},
        "tasks": [
            {"id": f"t{i}", "prompt": f"Task {i}: {p}", **task}
            for i, p in enumerate(crew["prompts"])
        ],
    }
    path = folder / "crew.yaml"
    # Not ASCII-escaped: YAML reads a JSON surrogate pair as two lone surrogates.
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def check(wire: str, crew: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeServer() as server:
        folder = Path(tmp)
        greedy: Greedy = crew["greedy"]
        greedy.install(server)
        path = write(folder, server, wire, crew)
        if set(crew["params"]) & set(WIDENING_PARAMS) and crew["params"] != {"n": 1}:
            with pytest.raises(SpecError):
                load_crew(path)
            return
        loaded = load_crew(path)
        asyncio.run(run_crew(loaded, RunOptions(home=folder / "home")))
        limits = crew["limits"]
        sent = folder / "sent.txt"
        tool_calls = len(sent.read_text().splitlines()) if sent.exists() else 0
        book = price_book(loaded.spec)
        spent = sum(
            book.cost(MODELS[wire], Tokens(i, o)) or Decimal(1_000) for i, o in greedy.billed
        )
        assert len(greedy.billed) <= limits["max_llm_calls"]
        assert tool_calls <= limits["max_tool_calls"]
        assert sum(i + o for i, o in greedy.billed) <= limits["max_tokens"]
        assert spent <= Decimal(str(limits["max_cost_usd"]))


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(crew=crews())
def test_no_crew_passes_a_limit_against_a_greedy_server(
    wire: str, crew: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAS_TEST_KEY", "sk-test-0123456789")
    check(wire, crew)


any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
messages = st.lists(
    st.one_of(
        st.builds(Message, role=st.sampled_from(["user", "assistant"]), content=any_text),
        st.builds(
            lambda text, args: Message(
                "assistant", text, (ToolCall("c1", "send", {"text": args}),)
            ),
            any_text,
            any_text,
        ),
        st.builds(lambda out: Message("tool", out, tool_call_id="c1", name="send"), any_text),
    ),
    min_size=1,
    max_size=40,
)
tools = st.lists(
    st.builds(
        lambda name, about: ToolSchema(
            name or "t", about, {"type": "object", "properties": {"x": {"type": "string"}}}
        ),
        st.text("abcxyz_", max_size=10),
        any_text,
    ),
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(
    wire=st.sampled_from(["openai", "anthropic"]),
    system=any_text,
    conversation=messages,
    schemas=tools,
    structured=st.booleans(),
)
def test_the_input_bound_is_never_below_what_a_server_can_count(
    wire: str,
    system: str,
    conversation: list[Message],
    schemas: list[ToolSchema],
    structured: bool,
) -> None:
    model = ModelSpec(provider=wire, model=MODELS[wire], base_url="http://127.0.0.1:1")
    request = Request(
        model, system, tuple(conversation), tuple(schemas), SCHEMA if structured else None
    )
    path = OPENAI if wire == "openai" else ANTHROPIC
    assert input_bound(request) >= honest_input_tokens(path, wire_body(request))
