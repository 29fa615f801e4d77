"""Header parsing, key rules and scrubbing, and the llm.jsonl records replay reads back."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mas_cli.errors import UsageError
from mas_cli.llm.headers import duration_s, rate_limit_info, retry_after_s
from mas_cli.llm.keys import NO_KEY, MissingKey, api_key, key_env, provider_secrets
from mas_cli.llm.recording import LlmLog, Recording, completion_doc, completion_from, request_doc
from mas_cli.llm.replay import ReplayProvider, first_difference, load, nearest
from mas_cli.llm.replay_records import RecordDoc
from mas_cli.llm.types import CallSite, Completion, LlmFailure, Message, Request, ToolCall, Usage
from mas_cli.spec.model_spec import ModelSpec

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "7"}, 0.25),
        ({"retry-after": "Sat, 21 Nov 2026 12:00:30 GMT"}, 30.0),
        ({"retry-after": "Sat, 21 Nov 2026 11:00:00 GMT"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-3"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], wait: float | None) -> None:
    assert retry_after_s(headers, NOW) == wait


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("2", 2.0),
        ("6 minutes", None),
        ("", None),
    ],
)
def test_openai_reset_durations(text: str, seconds: float | None) -> None:
    assert duration_s(text) == seconds


def test_anthropic_rate_limit_headers_take_the_tightest_token_window() -> None:
    headers = {
        "anthropic-ratelimit-requests-remaining": "3",
        "anthropic-ratelimit-requests-reset": "2026-11-21T12:00:10Z",
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": "2026-11-21T12:00:20Z",
        "anthropic-ratelimit-output-tokens-remaining": "500",
        "anthropic-ratelimit-output-tokens-reset": "2026-11-21T12:00:05Z",
    }
    info = rate_limit_info(headers, NOW)
    assert info is not None
    assert (info.remaining_requests, info.reset_requests_s) == (3, 10.0)
    assert (info.remaining_tokens, info.reset_tokens_s) == (0, 20.0)
    assert info.wait_s() == 20.0
    assert rate_limit_info({"content-type": "application/json"}) is None


def test_key_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    openai = ModelSpec(provider="openai", model="m")
    assert key_env(openai) == "OPENAI_API_KEY"
    assert key_env(openai.model_copy(update={"api_key_env": "MY_KEY"})) == "MY_KEY"
    local = openai.model_copy(update={"base_url": "http://localhost:11434/v1"})
    assert (key_env(local), api_key(local)) == (None, NO_KEY)
    with pytest.raises(MissingKey) as caught:
        api_key(openai)
    assert isinstance(caught.value, UsageError)
    assert (
        str(caught.value)
        == "OPENAI_API_KEY is not set. Export it, or run offline: mas run CREW.yaml --offline"
    )
    monkeypatch.setenv("OPENAI_API_KEY", "  sk-abc123456  ")
    assert api_key(openai) == "sk-abc123456"


def test_secrets_scrub_keys_and_long_header_values_only() -> None:
    secrets = provider_secrets("sk-abcdef123456", ["1", "team-token-xyz"])
    assert secrets.scrub("key sk-abcdef123456 token team-token-xyz v1") == "key *** token *** v1"
    assert provider_secrets(NO_KEY).values == ()


def _request(turn: int = 1, text: str = "hello", attempt: int = 1) -> Request:
    model = ModelSpec(
        provider="openai",
        model="gpt-4o-mini",
        api_key_env="K",
        headers={"Authorization": "Bearer x"},
    )
    site = CallSite("a", "t", turn, attempt)
    return Request(model=model, system="sys", messages=(Message("user", text),), site=site)


def test_request_records_hold_no_headers_and_no_key_variable() -> None:
    doc = request_doc(_request())
    assert "headers" not in doc["model"]
    assert "api_key_env" not in doc["model"]
    assert "Bearer" not in json.dumps(doc)


def test_completions_round_trip_through_their_records() -> None:
    completion = Completion(
        Message(
            "assistant", "", (ToolCall("c1", "f", {"x": 1}), ToolCall("c2", "f", {}, "bad json"))
        ),
        Usage(10, 5, 4, 0, 2, "provider", {"prompt_tokens": 10}),
        "tool_calls",
        "gpt-4o-mini-2024",
    )
    assert completion_from(json.loads(json.dumps(completion_doc(completion)))) == completion


def test_first_difference_names_the_path_and_where_strings_part() -> None:
    assert first_difference({"a": [1, {"b": "x"}]}, {"a": [1, {"b": "x"}]}) is None
    assert (
        first_difference({"a": [1, {"b": "x"}]}, {"a": [1, {"b": "y"}]})
        == "a[1].b: recorded 'x', now 'y'"
    )
    assert first_difference({"a": [1]}, {"a": [1, 2]}) == "a: recorded 1 items, now 2"
    long_a, long_b = "0123456789" * 5 + "A", "0123456789" * 5 + "B"
    assert (
        first_difference({"s": long_a}, {"s": long_b})
        == "s: recorded …'01234567890123456789A', now …'01234567890123456789B'"
    )


def test_nearest_prefers_the_same_agent_task_and_turn() -> None:
    failed = {"request": {}, "error": {"kind": "x", "retryable": False, "message": "m"}}
    records = [
        RecordDoc.model_validate({"agent": "b", "task": "t", "turn": 1, "attempt": 1, **failed}),
        RecordDoc.model_validate({"agent": "a", "task": "t", "turn": 1, "attempt": 1, **failed}),
        RecordDoc.model_validate({"agent": "a", "task": "t", "turn": 3, "attempt": 1, **failed}),
    ]
    assert nearest(records, ("a", "t", 2, 1)) == 1
    assert nearest(records, ("a", "t", 3, 2)) == 2
    assert nearest([], ("a", "t", 1, 1)) is None


def _record(tmp_path: Path, *outcomes: Completion | LlmFailure) -> Path:
    class Scripted:
        name = "scripted"

        def __init__(self) -> None:
            self.left = list(outcomes)

        async def complete(self, request: Request) -> Completion:  # noqa: ARG002
            outcome = self.left.pop(0)
            if isinstance(outcome, LlmFailure):
                raise outcome
            return outcome

    path = tmp_path / "llm.jsonl"

    async def go() -> None:
        with LlmLog(path) as log:
            provider = Recording(Scripted(), log)
            for attempt in range(1, len(outcomes) + 1):  # attempts of one turn's call
                with contextlib.suppress(LlmFailure):
                    await provider.complete(_request(attempt=attempt))

    asyncio.run(go())
    return path


def test_a_recorded_failure_replays_as_the_same_failure_then_the_answer(tmp_path: Path) -> None:
    failure = LlmFailure(
        "openai 429 rate_limit: slow",
        kind="rate_limit",
        retryable=True,
        status=429,
        retry_after_s=0.5,
    )
    answer = Completion(Message("assistant", "hi"), Usage(3, 1, source="provider"))
    replay = load(_record(tmp_path, failure, answer))

    async def go() -> tuple[LlmFailure, Completion]:
        with pytest.raises(LlmFailure) as caught:
            await replay.complete(_request())
        return caught.value, await replay.complete(_request(attempt=2))

    again, served = asyncio.run(go())
    assert (again.kind, again.status, again.retry_after_s, str(again)) == (
        "rate_limit",
        429,
        0.5,
        str(failure),
    )
    assert served == answer


def test_a_call_that_was_not_recorded_names_the_nearest_record(tmp_path: Path) -> None:
    replay = load(_record(tmp_path, Completion(Message("assistant", "hi"), Usage())))

    async def go() -> LlmFailure:
        with pytest.raises(LlmFailure) as caught:
            await replay.complete(_request(turn=2, text="hello again"))
        return caught.value

    failure = asyncio.run(go())
    assert (failure.kind, failure.retryable) == ("replay_mismatch", False)
    assert str(failure).startswith(
        "replay: agent a, task t, turn 2, attempt 1 was not recorded; the nearest recorded request, "
        "llm.jsonl line 1 (agent a, task t, turn 1, attempt 1), differs at messages[0].content: "
        "recorded 'hello', now 'hello again'"
    )


def test_an_unreadable_recording_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot be read"):
        load(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n{}\n")
    with pytest.raises(UsageError, match=r"bad\.jsonl:1: not a JSON record"):
        load(bad)
    assert isinstance(ReplayProvider([], bad), ReplayProvider)
