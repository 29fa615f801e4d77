"""OpenAI chat completions through `AsyncOpenAI`, and any OpenAI-compatible server via base_url.

The shell (client, one attempt, failures, closing) is `sdk_shell.SdkProvider`'s; the body and
the parse are `openai_wire`'s.
"""

from __future__ import annotations

from typing import Any

import httpx2  # with the SDK only: this module is imported when a provider is made

from mas_cli.llm.keys import base_url
from mas_cli.llm.openai_wire import parse_completion, request_body
from mas_cli.llm.sdk_shell import SdkProvider
from mas_cli.llm.types import Completion, ProviderOptions, Request
from mas_cli.spec.model_spec import ModelSpec


class OpenAIProvider(SdkProvider):
    """Chat completions with function tools (parallel calls too) and structured output."""

    name = "openai"
    sdk, client_class, base_error = "openai", "AsyncOpenAI", "OpenAIError"

    def __init__(self, model: ModelSpec) -> None:
        super().__init__(model, base_url(model))

    def _body(self, request: Request) -> dict[str, Any]:
        return request_body(request)

    def _parse(self, data: Any, request: Request) -> Completion:
        return parse_completion(data, request)

    async def _create(self, body: dict[str, Any], request: Request) -> httpx2.Response:
        # The body is plain JSON that openai_wire built: it goes out as it is, through the
        # client's documented `post` for raw requests (auth, headers, timeout, errors as the SDK
        # raises them). Through `chat.completions.create` it was first walked by the SDK's type
        # transform, which changes nothing in such a body: a sixth of mas's CPU per request
        # against a local server even with the body in extra_body (bench/RESULTS.md).
        options: dict[str, Any] = {"timeout": request.timeout_s, "security": {"bearer_auth": True}}
        if request.model.headers:
            options["headers"] = request.model.headers
        response: httpx2.Response = await self._client.post(
            "/chat/completions", cast_to=httpx2.Response, body=body, options=options
        )
        return response


def create(model: ModelSpec, options: ProviderOptions) -> OpenAIProvider:  # noqa: ARG001
    """Registry factory.

    Raises:
        MissingKey: the model's key variable is not set.
    """
    return OpenAIProvider(model)
