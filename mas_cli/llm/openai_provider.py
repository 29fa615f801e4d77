"""OpenAI chat completions through `AsyncOpenAI`, and any OpenAI-compatible server via base_url.

The shell (client, one attempt, failures, closing) is `sdk_shell.SdkProvider`'s; the body and
the parse are `openai_wire`'s.
"""

from __future__ import annotations

from typing import Any

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
        # The SDK imports its chat resource on first use: here, before the run, not inside the
        # first call, where every task of a parallel crew would wait for it on the event loop.
        _ = self._client.chat.completions.with_raw_response

    def _body(self, request: Request) -> dict[str, Any]:
        return request_body(request)

    def _parse(self, data: Any, request: Request) -> Completion:
        return parse_completion(data, request)

    async def _create(self, body: dict[str, Any], request: Request) -> Any:
        # The body is plain JSON that openai_wire built: it goes out as it is, in extra_body (the
        # SDK's placeholder `messages` is replaced there). Given as `messages`, it would first be
        # walked by the SDK's type transform, which changes nothing in such a body and took a
        # quarter of mas's CPU per request against a local server.
        rest = {k: v for k, v in body.items() if k != "model"}
        return await self._client.chat.completions.with_raw_response.create(
            model=body["model"],
            messages=[],
            extra_body=rest,
            extra_headers=request.model.headers or None,
            timeout=request.timeout_s,
        )


def create(model: ModelSpec, options: ProviderOptions) -> OpenAIProvider:  # noqa: ARG001
    """Registry factory.

    Raises:
        MissingKey: the model's key variable is not set.
    """
    return OpenAIProvider(model)
