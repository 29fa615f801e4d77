"""The Anthropic provider: the official SDK against a local wire-compatible server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fakeserver import (
    ANTHROPIC,
    FakeServer,
    Reply,
    anthropic_error,
    anthropic_text,
    anthropic_tools,
)

from mas_cli.llm.anthropic_provider import AnthropicProvider
from mas_cli.llm.types import (
    CallSite,
    Completion,
    LlmFailure,
    Message,
    Request,
    ToolCall,
    ToolSchema,
)
from mas_cli.spec.model_spec import DEFAULT_OUTPUT_TOKENS, ModelSpec

KEY = "sk-ant-test-0123456789"
LOOKUP = ToolSchema(
    "lookup", "Look an account up.", {"type": "object", "properties": {"id": {"type": "string"}}}
)


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)


def _request(server: FakeServer, **changes: Any) -> Request:
    model = {
        "provider": "anthropic",
        "model": "claude-sonnet-4-6",
        "base_url": server.url,
        "api_key_env": "ANTHROPIC_API_KEY",
    }
    model.update(changes.pop("model", {}))
    fields: dict[str, Any] = {
        "model": ModelSpec.model_validate(model),
        "system": "You are terse.",
        "messages": (Message("user", "hello"),),
        "timeout_s": 5.0,
        "site": CallSite("a", "t"),
    }
    return Request(**{**fields, **changes})


def _complete(request: Request) -> Completion:
    async def go() -> Completion:
        provider = AnthropicProvider(request.model)
        try:
            return await provider.complete(request)
        finally:
            await provider.aclose()

    return asyncio.run(go())


def _fail(request: Request) -> LlmFailure:
    with pytest.raises(LlmFailure) as caught:
        _complete(request)
    return caught.value


def test_text_answer_with_system_prompt_and_default_max_tokens(server: FakeServer) -> None:
    server.anthropic.push(anthropic_text("hi there"))
    completion = _complete(_request(server))
    assert completion.message == Message("assistant", "hi there")
    assert (completion.finish_reason, completion.response_model) == (
        "end_turn",
        "claude-sonnet-4-6",
    )
    seen = server.requests(ANTHROPIC)[0]
    assert KEY in seen.headers.get("x-api-key", "") + seen.headers.get("authorization", "")
    assert seen.headers["x-stainless-retry-count"] == "0"
    assert seen.json == {
        "model": "claude-sonnet-4-6",
        "max_tokens": DEFAULT_OUTPUT_TOKENS,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
        "system": "You are terse.",
    }


def test_tool_use_blocks_become_tool_calls_and_results_go_back_as_tool_result_blocks(
    server: FakeServer,
) -> None:
    server.anthropic.push(
        anthropic_tools(("lookup", {"id": "a"}), ("lookup", {"id": "b"}), text="Looking.")
    )
    completion = _complete(_request(server, tools=(LOOKUP,)))
    assert completion.finish_reason == "tool_use"
    assert completion.message.content == "Looking."
    assert completion.message.tool_calls == (
        ToolCall("toolu_0", "lookup", {"id": "a"}),
        ToolCall("toolu_1", "lookup", {"id": "b"}),
    )
    assert server.requests(ANTHROPIC)[0].json["tools"] == [
        {"name": "lookup", "description": "Look an account up.", "input_schema": LOOKUP.parameters}
    ]
    server.anthropic.push(anthropic_text("done"))
    history = (
        Message("user", "hello"),
        completion.message,
        Message("tool", '{"ok": 1}', tool_call_id="toolu_0", name="lookup"),
        Message(
            "tool", "error: no such account", tool_call_id="toolu_1", name="lookup", is_error=True
        ),
    )
    _complete(_request(server, tools=(LOOKUP,), messages=history))
    sent = server.requests(ANTHROPIC)[1].json["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Looking."},
            {"type": "tool_use", "id": "toolu_0", "name": "lookup", "input": {"id": "a"}},
            {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"id": "b"}},
        ],
    }
    assert sent[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_0", "content": '{"ok": 1}'},
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": "error: no such account",
                "is_error": True,
            },
        ],
    }


def test_prompt_caching_marks_the_system_prompt_and_the_last_tool(server: FakeServer) -> None:
    server.anthropic.push(anthropic_text("ok"))
    two = (LOOKUP, ToolSchema("search", "Search.", {"type": "object"}))
    _complete(
        _request(
            server, tools=two, model={"prompt_caching": True, "max_tokens": 256, "temperature": 0.5}
        )
    )
    sent = server.requests(ANTHROPIC)[0].json
    assert sent["system"] == [
        {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}
    ]
    assert "cache_control" not in sent["tools"][0]
    assert sent["tools"][1]["cache_control"] == {"type": "ephemeral"}
    assert (sent["max_tokens"], sent["temperature"]) == (256, 0.5)


def test_usage_adds_cache_reads_and_writes_to_input(server: FakeServer) -> None:
    raw = {
        "input_tokens": 50,
        "cache_read_input_tokens": 2000,
        "cache_creation_input_tokens": 300,
        "output_tokens": 80,
    }
    server.anthropic.push(anthropic_text("ok", usage=raw))
    usage = _complete(_request(server)).usage
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (
        2350,
        2000,
        300,
    )
    assert (usage.output_tokens, usage.source, usage.raw) == (80, "provider", raw)


def test_529_overloaded_is_retried(server: FakeServer) -> None:
    server.anthropic.push(anthropic_error(529, "overloaded_error", "Overloaded"))
    failure = _fail(_request(server))
    assert (failure.kind, failure.status, failure.retryable) == ("overloaded", 529, True)
    assert str(failure) == "anthropic 529 overloaded: Overloaded"


def test_500_is_retried(server: FakeServer) -> None:
    server.anthropic.push(anthropic_error(500, "api_error", "Internal server error"))
    failure = _fail(_request(server))
    assert (failure.kind, failure.retryable) == ("server_error", True)


def test_429_reads_anthropic_rate_limit_headers(server: FakeServer) -> None:
    headers = {
        "retry-after": "3",
        "anthropic-ratelimit-requests-remaining": "10",
        "anthropic-ratelimit-requests-reset": "2030-01-01T00:00:00Z",
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": "2030-01-01T00:00:00Z",
        "anthropic-ratelimit-output-tokens-remaining": "900",
        "anthropic-ratelimit-output-tokens-reset": "2030-01-01T00:00:00Z",
    }
    server.anthropic.push(
        anthropic_error(
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
            headers=headers,
        )
    )
    failure = _fail(_request(server))
    assert (failure.kind, failure.retryable, failure.retry_after_s) == ("rate_limit", True, 3.0)
    info = failure.rate_limit
    assert info is not None
    assert (info.remaining_requests, info.remaining_tokens) == (10, 0)
    assert info.reset_tokens_s is not None
    assert info.reset_tokens_s > 1000


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (429, "rate_limit_error", "enforced_spend_limit_reached"),
        (429, "rate_limit_error", "contract_spend_limit_reached"),
        (400, "billing_error", None),
    ],
)
def test_spend_limits_and_billing_errors_are_never_retried(
    server: FakeServer, status: int, kind: str, code: str | None
) -> None:
    server.anthropic.push(
        anthropic_error(
            status,
            kind,
            "Your organization has reached its spend limit.",
            error_code=code,
            headers={"retry-after": "1"},
        )
    )
    failure = _fail(_request(server))
    assert (failure.kind, failure.retryable, failure.retry_after_s) == ("quota", False, None)
    assert "spend limit" in str(failure)


def test_401_never_echoes_the_key(server: FakeServer) -> None:
    server.anthropic.push(anthropic_error(401, "authentication_error", f"invalid x-api-key {KEY}"))
    failure = _fail(_request(server))
    assert (failure.kind, failure.retryable) == ("auth", False)
    assert KEY not in str(failure)
    assert "ANTHROPIC_API_KEY" in (failure.hint or "")


def test_a_response_slower_than_the_timeout_is_a_retryable_timeout(server: FakeServer) -> None:
    server.anthropic.push(Reply(delay_s=3, json=anthropic_text("late").json))
    failure = _fail(_request(server, timeout_s=0.3))
    assert (failure.kind, failure.retryable) == ("timeout", True)


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (Reply(body=b"upstream connect error"), "not JSON; body starts: upstream connect error"),
        (Reply(json={"id": "msg_1", "type": "message"}), "no content list"),
        (
            Reply(json={"content": [{"type": "text", "text": None}]}),
            "content[0].text is not a string",
        ),
        (
            Reply(json={"content": [{"type": "tool_use", "input": {}}]}),
            "content[0] (tool_use) has no id or name",
        ),
    ],
)
def test_malformed_bodies(server: FakeServer, reply: Reply, problem: str) -> None:
    server.anthropic.push(reply)
    failure = _fail(_request(server))
    assert (failure.kind, failure.status, failure.retryable) == ("malformed", 200, False)
    assert problem in str(failure)


def test_tool_input_that_is_not_an_object_is_an_arguments_error(server: FakeServer) -> None:
    server.anthropic.push(anthropic_tools(("lookup", "not json")))
    call = _complete(_request(server, tools=(LOOKUP,))).message.tool_calls[0]
    assert call.arguments == {}
    assert call.arguments_error is not None


def test_the_body_goes_out_as_built(server: FakeServer) -> None:
    # As for OpenAI: the body skips the SDK's type transform and is exactly anthropic_wire's
    # (the SDK puts its own keys first).
    import json

    from mas_cli.llm.anthropic_wire import request_body

    history = (
        Message("user", "hello é \x00"),
        Message("assistant", "", (ToolCall("call_0", "lookup", {"id": "a", "n": [1, 2.5]}),)),
        Message("tool", '{"ok": 1}', tool_call_id="call_0", name="lookup"),
    )
    request = _request(server, tools=(LOOKUP,), messages=history)
    server.anthropic.push(anthropic_text("done"))
    _complete(request)
    sent = server.requests(ANTHROPIC)[0].json
    assert sent == json.loads(json.dumps(request_body(request)))
