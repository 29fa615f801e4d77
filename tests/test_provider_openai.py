"""The OpenAI provider: the official SDK against a local wire-compatible server."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from fakeserver import OPENAI, FakeServer, Reply, error, openai_text, openai_tools

from mas_cli.llm.keys import NO_KEY
from mas_cli.llm.openai_provider import OpenAIProvider
from mas_cli.llm.types import (
    CallSite,
    Completion,
    LlmFailure,
    Message,
    Request,
    ToolCall,
    ToolSchema,
)
from mas_cli.spec.model_spec import ModelSpec

KEY = "sk-test-0123456789"
LOOKUP = ToolSchema(
    "lookup", "Look an account up.", {"type": "object", "properties": {"id": {"type": "string"}}}
)


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", KEY)


def _request(server: FakeServer, **changes: Any) -> Request:
    model = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "base_url": server.url + "/v1",
        "api_key_env": "TEST_OPENAI_KEY",
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
        provider = OpenAIProvider(request.model)
        try:
            return await provider.complete(request)
        finally:
            await provider.aclose()

    return asyncio.run(go())


def _fail(request: Request) -> LlmFailure:
    with pytest.raises(LlmFailure) as caught:
        _complete(request)
    return caught.value


def test_text_answer_sends_the_conversation_with_the_key(server: FakeServer) -> None:
    server.openai.push(openai_text("hi there"))
    completion = _complete(_request(server))
    assert completion.message == Message("assistant", "hi there")
    assert completion.finish_reason == "stop"
    assert completion.response_model == "gpt-4o-mini"
    seen = server.requests(OPENAI)[0]
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.headers["x-stainless-retry-count"] == "0"
    assert seen.json == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "hello"},
        ],
        "max_tokens": 4096,  # always capped: the output the budget planned for
    }


def test_parallel_tool_calls_and_tool_results_round_trip(server: FakeServer) -> None:
    server.openai.push(openai_tools(("lookup", '{"id": "a"}'), ("lookup", '{"id": "b"}')))
    completion = _complete(_request(server, tools=(LOOKUP,)))
    assert completion.finish_reason == "tool_calls"
    assert completion.message.tool_calls == (
        ToolCall("call_0", "lookup", {"id": "a"}),
        ToolCall("call_1", "lookup", {"id": "b"}),
    )
    sent = server.requests(OPENAI)[0].json
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look an account up.",
                "parameters": LOOKUP.parameters,
            },
        }
    ]
    server.openai.push(openai_text("done"))
    history = (
        Message("user", "hello"),
        completion.message,
        Message("tool", '{"ok": 1}', tool_call_id="call_0", name="lookup"),
    )
    _complete(_request(server, tools=(LOOKUP,), messages=history))
    sent = server.requests(OPENAI)[1].json["messages"]
    assert sent[2]["tool_calls"][1] == {
        "id": "call_1",
        "type": "function",
        "function": {"name": "lookup", "arguments": '{"id": "b"}'},
    }
    assert sent[3] == {"role": "tool", "tool_call_id": "call_0", "content": '{"ok": 1}'}


def test_structured_output_sends_the_schema_as_response_format(server: FakeServer) -> None:
    schema = {
        "type": "object",
        "required": ["decision"],
        "properties": {"decision": {"type": "string"}},
    }
    server.openai.push(openai_text('{"decision": "approve"}'))
    completion = _complete(_request(server, output_schema=schema))
    assert json.loads(completion.message.content) == {"decision": "approve"}
    sent = server.requests(OPENAI)[0].json
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema},
    }


@pytest.mark.parametrize(
    ("mode", "tools", "sent"),
    [
        ("json_object", False, {"type": "json_object"}),
        ("none", False, None),
        ("json_schema", True, None),  # a grammar would silence the tools (llama.cpp's does)
        ("json_object", True, None),
    ],
)
def test_the_structured_output_mode_decides_what_response_format_is_sent(
    server: FakeServer, mode: str, tools: bool, sent: dict[str, str] | None
) -> None:
    schema = {"type": "object", "properties": {"decision": {"type": "string"}}}
    offered = (ToolSchema("lookup", "Look up.", {"type": "object", "properties": {}}),)
    server.openai.push(openai_text('{"decision": "approve"}'))
    request = _request(
        server,
        output_schema=schema,
        tools=offered if tools else (),
        model={"structured_output": mode},
    )
    _complete(request)
    assert server.requests(OPENAI)[0].json.get("response_format") == sent


def test_model_settings_params_and_headers_are_sent(server: FakeServer) -> None:
    server.openai.push(openai_text("ok"), openai_text("ok"))
    model = {
        "temperature": 0.2,
        "max_tokens": 50,
        "params": {"seed": 7, "top_p": 0.5},
        "headers": {"X-Team": "fraud"},
    }
    _complete(_request(server, model=model))
    seen = server.requests(OPENAI)[0]
    assert (seen.json["temperature"], seen.json["seed"], seen.json["top_p"]) == (0.2, 7, 0.5)
    assert seen.json["max_tokens"] == 50  # an OpenAI-compatible server (base_url) gets max_tokens
    assert seen.headers["x-team"] == "fraud"


def test_usage_counts_cached_tokens_inside_input_and_keeps_the_raw_usage(
    server: FakeServer,
) -> None:
    raw = {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1024},
        "completion_tokens_details": {"reasoning_tokens": 128},
    }
    server.openai.push(openai_text("ok", usage=raw))
    usage = _complete(_request(server)).usage
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (
        1200,
        1024,
        0,
    )
    assert (usage.output_tokens, usage.reasoning_tokens) == (300, 128)
    assert usage.source == "provider"
    assert usage.raw == raw


def test_a_server_without_usage_gets_an_estimate(server: FakeServer) -> None:
    body = openai_text("ok").json
    del body["usage"]
    server.openai.push(Reply(json=body))
    usage = _complete(_request(server)).usage
    assert usage.source == "estimate"
    assert usage.input_tokens > 0


def test_local_server_without_api_key_env_gets_a_placeholder_never_the_openai_key(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-openai-key-000")
    server.openai.push(openai_text("local"))
    completion = _complete(_request(server, model={"api_key_env": None}))
    assert completion.message.content == "local"
    assert server.requests(OPENAI)[0].headers["authorization"] == f"Bearer {NO_KEY}"


def test_429_with_retry_after_is_retryable_and_says_how_long(server: FakeServer) -> None:
    server.openai.push(
        error(
            429,
            "Rate limit reached for requests",
            code="rate_limit_exceeded",
            headers={"retry-after": "2"},
        )
    )
    failure = _fail(_request(server))
    assert (failure.kind, failure.status, failure.retryable, failure.retry_after_s) == (
        "rate_limit",
        429,
        True,
        2.0,
    )
    assert str(failure).startswith("openai 429 rate_limit: Rate limit reached for requests")


def test_429_retry_after_ms_wins_and_rate_limit_headers_are_carried(server: FakeServer) -> None:
    headers = {
        "retry-after-ms": "250",
        "retry-after": "9",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m30s",
        "x-ratelimit-remaining-tokens": "5000",
        "x-ratelimit-reset-tokens": "120ms",
    }
    server.openai.push(error(429, "slow down", headers=headers))
    failure = _fail(_request(server))
    assert failure.retry_after_s == 0.25
    assert failure.rate_limit is not None
    assert (failure.rate_limit.remaining_requests, failure.rate_limit.reset_requests_s) == (0, 90.0)
    assert (failure.rate_limit.remaining_tokens, failure.rate_limit.reset_tokens_s) == (5000, 0.12)


def test_429_without_retry_after_waits_for_the_exhausted_window(server: FakeServer) -> None:
    headers = {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s"}
    server.openai.push(error(429, "tokens per min", headers=headers))
    assert _fail(_request(server)).retry_after_s == 360.0


@pytest.mark.parametrize("count", ["inf", "1e400", "Infinity"])
def test_429_with_an_endless_remaining_count_is_a_rate_limit_not_a_crash(
    server: FakeServer, count: str
) -> None:
    """A remaining count no integer holds is no count at all: the 429 is still a rate limit."""
    headers = {"x-ratelimit-remaining-requests": count, "retry-after": "2"}
    server.openai.push(error(429, "slow down", headers=headers))
    failure = _fail(_request(server))
    assert (failure.kind, failure.retryable, failure.retry_after_s) == ("rate_limit", True, 2.0)
    assert failure.rate_limit is None or failure.rate_limit.remaining_requests is None


def test_insufficient_quota_is_never_retried_and_says_what_to_do(server: FakeServer) -> None:
    server.openai.push(
        error(
            429,
            "You exceeded your current quota, please check your plan and billing details.",
            code="insufficient_quota",
            headers={"retry-after": "1"},
        )
    )
    failure = _fail(_request(server))
    assert (failure.kind, failure.retryable, failure.retry_after_s) == ("quota", False, None)
    assert "exceeded your current quota" in str(failure)
    assert "add credit or raise the limit" in (failure.hint or "")


@pytest.mark.parametrize(
    ("message", "window"),
    [
        (  # llama-server's, as the LiteLLM proxy passes it on (its n_ctx field gone)
            "litellm.ContextWindowExceededError: request (8456 tokens) exceeds the available "
            "context size (1024 tokens), try increasing it",
            1024,
        ),
        ("This model's maximum context length is 128,000 tokens. However, ...", 128000),
        ("context_length_exceeded: prompt is too long: 210000 tokens > 200000 maximum", 200000),
    ],
)
def test_a_context_overflow_names_the_window_its_message_quotes(
    server: FakeServer, message: str, window: int
) -> None:
    server.openai.push(error(400, message, code="context_length_exceeded"))
    failure = _fail(_request(server))
    assert (failure.kind, failure.retryable) == ("context_overflow", False)
    assert f"the server's window of {window} tokens" in (failure.hint or "")


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        # LiteLLM's key, user, team and end-user budgets (its BudgetExceededError)
        ("budget_exceeded", "Budget has been exceeded! Current cost: 0.52, Max budget: 0.5"),
        # its model, provider and tag budgets, from its router
        ("None", "No deployments available - crossed budget: Exceeded budget for deployment"),
    ],
)
def test_a_proxy_budget_429_is_a_quota_never_retried(
    server: FakeServer, kind: str, message: str
) -> None:
    server.openai.push(error(429, message, code="429", kind=kind))
    failure = _fail(_request(server))
    assert (failure.kind, failure.retryable) == ("quota", False)
    assert message in str(failure)
    assert "raise it on the server" in (failure.hint or "")


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (400, "bad_request", False),
        (401, "auth", False),
        (403, "permission", False),
        (404, "not_found", False),
        (408, "request_timeout", True),
        (409, "conflict", True),
        (422, "bad_request", False),
        (500, "server_error", True),
        (502, "server_error", True),
        (503, "server_error", True),
    ],
)
def test_status_codes_are_classified(
    server: FakeServer, status: int, kind: str, retryable: bool
) -> None:
    server.openai.push(error(status, f"status {status}"))
    failure = _fail(_request(server))
    assert (failure.status, failure.kind, failure.retryable) == (status, kind, retryable)
    assert f"status {status}" in str(failure)


def test_401_names_the_variable_and_never_echoes_the_key(server: FakeServer) -> None:
    server.openai.push(error(401, f"Incorrect API key provided: {KEY}."))
    failure = _fail(_request(server, model={"headers": {"X-Org-Token": "org-secret-value"}}))
    assert KEY not in str(failure)
    assert "Incorrect API key provided: ***." in str(failure)
    assert failure.hint == "the server refused the key in TEST_OPENAI_KEY; check it"


def test_a_response_slower_than_the_timeout_is_a_retryable_timeout(server: FakeServer) -> None:
    server.openai.push(Reply(delay_s=3, json=openai_text("late").json))
    failure = _fail(_request(server, timeout_s=0.3))
    assert (failure.kind, failure.retryable) == ("timeout", True)
    assert str(failure) == "openai: no answer within 0.3s"


def test_a_dropped_connection_is_a_retryable_connection_error(server: FakeServer) -> None:
    server.openai.push(Reply(drop=True))
    failure = _fail(_request(server))
    assert (failure.kind, failure.retryable) == ("connection", True)


def test_a_body_that_is_not_json_is_malformed_with_status_and_excerpt(server: FakeServer) -> None:
    server.openai.push(
        Reply(
            body=b"<html><body>502 Bad Gateway from the proxy</body></html>",
            headers={"content-type": "text/html"},
        )
    )
    failure = _fail(_request(server))
    assert (failure.kind, failure.status, failure.retryable) == ("malformed", 200, False)
    assert (
        "openai 200 malformed response: not JSON; body starts: <html><body>502 Bad Gateway"
        in str(failure)
    )


def test_an_error_body_sent_with_status_200_is_shown_as_an_error(server: FakeServer) -> None:
    """The LiteLLM proxy's shape when it cannot read its upstream's answer."""
    said = {"message": "litellm.APIError: APIError: OpenAIException - upstream", "code": "200"}
    server.openai.push(Reply(json={"error": {**said, "type": None, "param": None}}))
    failure = _fail(_request(server))
    assert (failure.kind, failure.status, failure.retryable) == ("malformed", 200, False)
    assert str(failure).startswith(
        "openai 200 error in a success response: litellm.APIError: APIError: OpenAIException"
    )
    assert "check base_url" not in str(failure)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"id": "x", "choices": []}, "no choices"),
        ({"id": "x"}, "no choices"),
        ({"choices": [{"finish_reason": "stop"}]}, "choices[0].message is not an object"),
        ({"choices": [{"message": {"content": 7}}]}, "choices[0].message.content is not a string"),
        (
            {
                "choices": [
                    {"message": {"tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}}
                ]
            },
            "tool_calls[0].function.name is missing",
        ),
    ],
)
def test_missing_fields_are_malformed(
    server: FakeServer, body: dict[str, Any], problem: str
) -> None:
    server.openai.push(Reply(json=body))
    failure = _fail(_request(server))
    assert failure.kind == "malformed"
    assert problem in str(failure)


def test_tool_call_arguments_that_are_not_json_reach_the_agent_as_an_arguments_error(
    server: FakeServer,
) -> None:
    server.openai.push(
        openai_tools(("lookup", '{"id": "a"'), ("lookup", "[1, 2]"), ("lookup", '{"id": "ok"}'))
    )
    calls = _complete(_request(server, tools=(LOOKUP,))).message.tool_calls
    assert calls[0].arguments == {}
    assert calls[0].arguments_error is not None
    assert "column 11" in calls[0].arguments_error
    assert calls[1].arguments_error == "arguments are JSON but not an object: '[1, 2]'"
    assert (calls[2].arguments, calls[2].arguments_error) == ({"id": "ok"}, None)


@pytest.mark.parametrize(
    "said",
    [
        # llama-cpp-python's server refusing a json_schema response_format, as a 500
        "Invalid response_format: only json_object is supported",
        "validation error: 1 error for CreateChatCompletionRequest",
        "n > 1 is not supported",
    ],
)
def test_a_5xx_that_blames_the_request_is_not_retried(server: FakeServer, said: str) -> None:
    server.openai.push(error(500, said))
    failure = _fail(_request(server))
    assert (failure.status, failure.kind, failure.retryable) == (500, "bad_request", False)
    assert str(failure).startswith(f"openai 500 bad_request: {said}")


def test_the_body_goes_out_as_built_key_order_included(server: FakeServer) -> None:
    # The body skips the SDK's type transform (sent through the client's `post`): it must
    # still be exactly the body openai_wire built.
    from mas_cli.llm.openai_wire import request_body

    history = (
        Message("user", "hello é \u2028 \x00"),
        Message("assistant", "", (ToolCall("call_0", "lookup", {"id": "a", "n": [1, 2.5]}),)),
        Message("tool", '{"ok": 1}', tool_call_id="call_0", name="lookup"),
    )
    request = _request(
        server,
        tools=(LOOKUP,),
        messages=history,
        output_schema={"type": "object", "properties": {"x": {"type": "string"}}},
    )
    server.openai.push(openai_text('{"x": "y"}'))
    _complete(request)
    sent = server.requests(OPENAI)[0].json
    assert list(sent) == list(request_body(request))
    assert sent == json.loads(json.dumps(request_body(request)))


def test_making_a_provider_loads_the_http_stacks_backend_before_any_call() -> None:
    """The HTTP stack's one-time import of its event-loop backend happens when the provider is
    made (before the run, with no loop running), not inside the first call, where every task
    of a parallel crew would wait for it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from mas_cli.llm.openai_provider import OpenAIProvider\n"
        "from mas_cli.spec.model_spec import ModelSpec\n"
        "spec = ModelSpec.model_validate({'provider': 'openai', 'model': 'gpt-4o-mini',"
        " 'base_url': 'http://127.0.0.1:9/v1'})\n"
        "assert 'anyio._backends._asyncio' not in sys.modules\n"
        "OpenAIProvider(spec)\n"
        "assert 'anyio._backends._asyncio' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_requests_started_together_start_no_worker_thread(server: FakeServer) -> None:
    """The SDK asked for the platform (its X-Stainless-OS header) in a worker thread in each
    request started before the first answer: threads taking the GIL from the event loop while
    a parallel crew's requests are built. The provider tells the client its platform first."""
    for _ in range(5):
        server.openai.push(openai_text("hi"))

    async def go() -> list[str]:
        provider = OpenAIProvider(_request(server).model)
        try:
            await asyncio.gather(*(provider.complete(_request(server)) for _ in range(5)))
        finally:
            await provider.aclose()
        return [t.name for t in threading.enumerate() if t.name.startswith(("asyncio_", "AnyIO"))]

    assert asyncio.run(go()) == []
    assert {r.headers["x-stainless-os"] for r in server.requests(OPENAI)} == {"Linux"}
