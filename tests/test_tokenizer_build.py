"""The tokenizer is built once, in a thread, and only where an exact count is needed (issue 19)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from crewkit import events, of_type, run, write_crew
from fakeserver import OPENAI, FakeServer, Reply, honest_input_tokens, openai_text, openai_tools
from hypothesis import given, settings
from hypothesis import strategies as st

from mas_cli.cost import tokens
from mas_cli.cost.tokens import (
    MAX_TOKEN_BYTES,
    count_messages,
    count_messages_bound,
    count_messages_floor,
)
from mas_cli.events.models import Event, TaskStarted

FRESH_BUILD_S = 10  # how long a held build waits to be released: far above a healthy run's need


@pytest.fixture
def fresh_builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """No encoding built yet in this process; returns the names of the bundled files loaded."""
    loaded: list[str] = []
    real = tokens._load_bundled

    def counting(url: str, expected_hash: str) -> dict[bytes, int]:
        loaded.append(url.rsplit("/", 1)[-1])
        return real(url, expected_hash)

    tokens._encoding.cache_clear()
    monkeypatch.setattr(tokens, "_building", {})
    monkeypatch.setattr(tokens, "_load_bundled", counting)
    yield loaded
    tokens._encoding.cache_clear()


texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool"]), "content": texts},
    optional={
        "name": texts,
        "tool_call_id": texts,
        "tool_calls": st.lists(
            st.fixed_dictionaries(
                {"function": st.fixed_dictionaries({"name": texts, "arguments": texts})}
            ),
            max_size=2,
        ),
    },
)
prop = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "integer", ""]), "description": texts},
    optional={"enum": st.lists(st.one_of(texts, st.integers(), st.booleans()), max_size=4)},
)
tool = st.builds(
    lambda name, description, props: {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": {"properties": props}},
    },
    texts,
    texts,
    st.dictionaries(texts, prop, max_size=3),
)


@settings(max_examples=60, deadline=None)
@given(
    messages=st.lists(message, max_size=4),
    tools=st.lists(tool, max_size=3),
    model=st.sampled_from(["gpt-4o", "gpt-4", "claude-sonnet-4-6", "some-local-model"]),
)
def test_the_bound_and_the_floor_hold_the_exact_count(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]], model: str
) -> None:
    """History trimming skips the tokenizer on this bound (it must never say less), and
    calibration on the floor (it must never say more)."""
    exact = count_messages(messages, model, tools or None).tokens
    assert count_messages_bound(messages, model, tools or None) >= exact
    assert count_messages_floor(messages, model, tools or None) <= exact


def test_the_bound_of_worst_case_texts() -> None:
    """Texts a BPE packs tightly or not at all: long runs, emoji, control characters, numbers."""
    for text in ("a" * 5000, "🚀" * 300, "\x00\x01" * 200, "1234567890" * 100, " " * 999):
        messages = [{"role": "user", "content": text, "name": text[:40]}]
        for model in ("gpt-4o", "gpt-4", "claude-sonnet-4-6"):
            assert count_messages_bound(messages, model) >= count_messages(messages, model).tokens


def test_each_encoding_is_built_once_across_threads_and_the_loop(fresh_builds: list[str]) -> None:
    first = tokens.prepare("gpt-4o")
    assert tokens.prepare("openai:gpt-4o-mini") is first  # the same encoding, the same build

    async def both() -> None:
        await asyncio.gather(tokens.ready("gpt-4o"), tokens.ready("gpt-5"))

    asyncio.run(both())
    assert tokens.count_text("hello world", "gpt-4o").tokens == 2
    assert fresh_builds == ["o200k_base.tiktoken"]


# A tokens-per-minute bucket that holds both calls counted exactly (about 330 tokens each with
# the output cap) but not at their bounds from sizes (about 1,250): each is counted, so the
# tokenizer is built. (The offline model's own usage needs none: cost.approx.)
PARALLEL = f"""
name: parallel
process: parallel
models:
  fast: {{provider: offline, model: gpt-4o-mini, max_tokens: 64}}
limits: {{max_concurrency: 2}}
rate_limits: {{gpt-4o-mini: {{tpm: 1000}}}}
agents:
  a: {{role: A, goal: answer, model: fast}}
  b: {{role: B, goal: answer, model: fast}}
tasks:
  - {{id: one, agent: a, prompt: "Say one. {"lorem ipsum dolor " * 60}"}}
  - {{id: two, agent: b, prompt: "Say two. {"lorem ipsum dolor " * 60}"}}
"""


def test_a_task_starts_while_the_tokenizer_is_still_being_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_builds: list[str]
) -> None:
    """The build is held until both tasks have started: built on the event loop, inside the
    first task's model call, it would hold the second task back until the wait ran out."""
    both_started = threading.Event()
    released: list[bool] = []
    counting = tokens._load_bundled

    def held(url: str, expected_hash: str) -> dict[bytes, int]:
        released.append(both_started.wait(FRESH_BUILD_S))
        return counting(url, expected_hash)

    monkeypatch.setattr(tokens, "_load_bundled", held)
    seen: list[str] = []

    def listener(event: Event) -> None:
        if isinstance(event, TaskStarted):
            seen.append(event.task or "")
            if len(seen) == 2:
                both_started.set()

    crew = write_crew(tmp_path / "crew", PARALLEL)
    result = run(crew, tmp_path / "home", listeners=(listener,), offline=False)
    assert result.status == "ok"
    assert released == [True]  # both tasks started before the one build finished
    assert fresh_builds == ["o200k_base.tiktoken"]
    calls = of_type(events(result), "llm_call")
    assert len(calls) == 2
    assert all(c["input_tokens"] > 0 for c in calls)
    assert not of_type(events(result), "rate_limited")  # counted exactly, both fit at once


def test_the_floor_of_worst_case_texts() -> None:
    """Texts a BPE packs most tightly: long runs of one character, spaces, digits, code."""
    for text in ("a" * 5000, " " * 999, "=" * 4096, "1234567890" * 100, "\t" * 300, "-" * 777):
        messages = [{"role": "user", "content": text}]
        for model in ("gpt-4o", "gpt-4", "claude-sonnet-4-6"):
            assert count_messages_floor(messages, model) <= count_messages(messages, model).tokens


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_no_token_is_longer_than_max_token_bytes(name: str) -> None:
    """The floor divides a text's bytes by MAX_TOKEN_BYTES: it holds only if no token is longer."""
    ranks = tokens._encoding(name)._mergeable_ranks
    assert max(map(len, ranks)) <= MAX_TOKEN_BYTES


def _served_crew(tmp_path: Path, server: FakeServer, limit: int) -> Path:
    crew = f"""
        name: served
        models:
          fast: {{provider: openai, model: gpt-4o-mini, base_url: "{server.url}/v1",
                  api_key_env: MAS_TEST_KEY}}
        limits: {{max_history_tokens: {limit}, max_identical_tool_calls: 10, max_turns: 6}}
        tools: {{big: {{function: tools.py:big}}}}
        agents:
          a: {{role: A, model: fast, tools: [big]}}
        tasks: [{{id: t, agent: a, prompt: Read every page.}}]
    """
    tools_py = 'def big(n: int) -> str:\n    """A page."""\n    return f"page {n} " + "lorem ipsum " * 60\n'
    return write_crew(tmp_path / "crew", crew, tools__py=tools_py)


def _pages(server: FakeServer, factor: int) -> None:
    """Three tool turns, then an answer; the server counts `factor` times the honest bound."""
    served: list[int] = []

    def answer(body: dict[str, Any]) -> Reply:
        turns = len(served)  # not counted in the messages: trimming drops some
        served.append(turns)
        reply = openai_tools(("big", json.dumps({"n": turns}))) if turns < 3 else openai_text("ok")
        inputs = honest_input_tokens(OPENAI, body) * factor
        reply.json["usage"] = {"prompt_tokens": inputs, "completion_tokens": 5}
        return reply

    server.openai.handler = answer


def test_a_run_far_from_max_history_tokens_builds_no_tokenizer(
    tmp_path: Path,
    server: FakeServer,
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_builds: list[str],
) -> None:
    """The build holds the GIL, and so every task, for a quarter of a second: a run whose
    provider counts its own tokens and whose prompts stay far below max_history_tokens needs
    no count of ours at all."""
    monkeypatch.setenv("MAS_TEST_KEY", "sk-test")
    _pages(server, factor=1)
    result = run(_served_crew(tmp_path, server, 100_000), clean_env, offline=False)
    assert result.status == "ok"
    assert len(of_type(events(result), "llm_call")) == 4
    assert fresh_builds == []
    assert tokens._building == {}


def test_trimming_still_counts_in_the_servers_tokens(
    tmp_path: Path,
    server: FakeServer,
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_builds: list[str],
) -> None:
    """A server counting 20 times what we do (a local model's tokenizer and template): the
    prompts are far below the limit in our tokens and far above it in the server's, so the
    history is trimmed only if the server's count was compared with ours."""
    monkeypatch.setenv("MAS_TEST_KEY", "sk-test")
    _pages(server, factor=20)
    result = run(_served_crew(tmp_path, server, 1500), clean_env, offline=False)
    log = events(result)
    assert result.status == "ok"
    assert of_type(log, "history_trimmed")
    assert fresh_builds == ["o200k_base.tiktoken"]
