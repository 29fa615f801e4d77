"""Anthropic messages through `AsyncAnthropic`: tool_use and tool_result blocks, a system
prompt, max_tokens always set, and prompt caching when the model asks for it.

The shell (client, one attempt, failures, closing) is `sdk_shell.SdkProvider`'s; the body and
the parse are `anthropic_wire`'s. Anthropic's 529 overloaded and its spend limits are
classified by `faults`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mas_cli.llm.anthropic_wire import parse_message, request_body
from mas_cli.llm.keys import base_url
from mas_cli.llm.sdk_shell import SdkProvider
from mas_cli.llm.types import Completion, ProviderOptions, Request
from mas_cli.spec.model_spec import ModelSpec

if TYPE_CHECKING:
    import httpx2


class AnthropicProvider(SdkProvider):
    """Messages with tools, a system prompt, and optional cache_control."""

    name = "anthropic"
    sdk, client_class, base_error = "anthropic", "AsyncAnthropic", "AnthropicError"

    def __init__(self, model: ModelSpec) -> None:
        super().__init__(model, messages_base_url(base_url(model)))

    def _body(self, request: Request) -> dict[str, Any]:
        return request_body(request)

    def _parse(self, data: Any, request: Request) -> Completion:
        return parse_message(data, request)

    async def _create(self, body: dict[str, Any], request: Request) -> httpx2.Response:
        # Our JSON body goes out as it is, past the SDK's type transform (in extra_body). Not
        # through `post` as in openai_provider: `messages.create` also names the span and warns
        # of deprecated models.
        rest = {k: v for k, v in body.items() if k not in ("model", "max_tokens")}
        raw = await self._client.messages.with_raw_response.create(
            model=body["model"],
            max_tokens=body["max_tokens"],
            messages=[],
            extra_body=rest,
            extra_headers=request.model.headers or None,
            timeout=request.timeout_s,
        )
        response: httpx2.Response = raw.http_response
        return response


def messages_base_url(base_url: str | None) -> str | None:
    """The SDK appends `/v1/messages`; a base_url written with its `/v1` (as OpenAI-style
    servers are) would call `/v1/v1/messages`, so the `/v1` is dropped."""
    if base_url is None:
        return None
    trimmed = base_url.rstrip("/")
    return trimmed.removesuffix("/v1") if trimmed.endswith("/v1") else base_url


def create(model: ModelSpec, options: ProviderOptions) -> AnthropicProvider:  # noqa: ARG001
    """Registry factory.

    Raises:
        MissingKey: the model's key variable is not set.
    """
    return AnthropicProvider(model)
