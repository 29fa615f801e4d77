"""Anthropic messages through `AsyncAnthropic`: tool_use and tool_result blocks, a system
prompt, max_tokens always set, and prompt caching when the model asks for it.

One attempt per call: the SDK's own retries are off (max_retries=0) so every attempt is the
engine's, logged and counted. The raw response body is read by `anthropic_wire`; failures,
Anthropic's 529 overloaded and its spend limits included, are classified by `faults`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from mas_cli.llm.anthropic_wire import parse_message, request_body
from mas_cli.llm.faults import Endpoint, connection_failure, decode, server_of, status_failure
from mas_cli.llm.headers import reported_cost_usd
from mas_cli.llm.keys import api_key, base_url, key_env, provider_secrets
from mas_cli.llm.types import Completion, LlmFailure, ProviderOptions, Request
from mas_cli.spec.model_spec import ModelSpec

if TYPE_CHECKING:
    import httpx2


class AnthropicProvider:
    """Messages with tools, a system prompt, and optional cache_control."""

    name = "anthropic"

    def __init__(self, model: ModelSpec) -> None:
        import anthropic

        from mas_cli.llm import bounded  # loads httpx2: only with the SDK

        key = api_key(model)
        self._secrets = provider_secrets(key, model.headers.values())
        self._env = key_env(model)
        self._client = anthropic.AsyncAnthropic(
            api_key=key,
            base_url=messages_base_url(base_url(model)),
            max_retries=0,
            http_client=anthropic.DefaultAsyncHttpxClient(event_hooks=bounded.HOOKS),
        )

    async def complete(self, request: Request) -> Completion:
        """One call: the body sent, the response decoded, a failure raised as LlmFailure."""
        endpoint = Endpoint(
            self.name,
            request.model.model,
            self._env,
            self._secrets.with_headers(request.model.headers.values()),
            server_of(request.model.base_url, self.name),
            request.model.base_url is not None,
        )
        body = request_body(request)
        response = await self._send(body, request, endpoint)
        completion = decode(
            endpoint,
            response.status_code,
            response.content,
            lambda data: parse_message(data, request),
            body,
        )
        return replace(completion, reported_cost_usd=reported_cost_usd(response.headers))

    async def _send(
        self, body: dict[str, Any], request: Request, endpoint: Endpoint
    ) -> httpx2.Response:
        import anthropic

        from mas_cli.llm.bounded import ResponseTooLarge

        rest = {k: v for k, v in body.items() if k not in ("model", "messages", "max_tokens")}
        try:
            raw = await self._client.messages.with_raw_response.create(
                model=body["model"],
                max_tokens=body["max_tokens"],
                messages=cast(Any, body["messages"]),
                extra_body=rest,
                extra_headers=request.model.headers or None,
                timeout=request.timeout_s,
            )
        except anthropic.APIStatusError as exc:
            response = exc.response
            raise status_failure(
                endpoint, response.status_code, response.headers, response.content
            ) from None
        except anthropic.APIConnectionError as exc:
            if isinstance(exc.__cause__, ResponseTooLarge):  # the SDK wraps what it does not know
                raise exc.__cause__ from None
            timed_out = isinstance(exc, anthropic.APITimeoutError)
            raise connection_failure(
                endpoint, timed_out=timed_out, timeout_s=request.timeout_s
            ) from None
        except anthropic.AnthropicError as exc:
            raise _sdk_failure(exc) from None
        return raw.http_response

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self._client.close()


def messages_base_url(base_url: str | None) -> str | None:
    """The SDK appends `/v1/messages`; a base_url written with its `/v1` (as OpenAI-style
    servers are) would call `/v1/v1/messages`, so the `/v1` is dropped."""
    if base_url is None:
        return None
    trimmed = base_url.rstrip("/")
    return trimmed.removesuffix("/v1") if trimmed.endswith("/v1") else base_url


def _sdk_failure(exc: Exception) -> LlmFailure:
    # The SDK's own message may quote the request; its type is enough to act on.
    return LlmFailure(
        f"anthropic SDK error: {type(exc).__name__}", kind="sdk_error", retryable=False
    )


def create(model: ModelSpec, options: ProviderOptions) -> AnthropicProvider:  # noqa: ARG001
    """Registry factory.

    Raises:
        MissingKey: the model's key variable is not set.
    """
    return AnthropicProvider(model)
