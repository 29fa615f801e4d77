"""OpenAI chat completions through `AsyncOpenAI`, and any OpenAI-compatible server via base_url.

One attempt per call: the SDK's own retries are off (max_retries=0) so every attempt is the
engine's, logged and counted. The SDK sends the request (auth, headers, timeout); the raw
response body is read by `openai_wire`, and failures are classified by `faults`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from mas_cli.llm.faults import Endpoint, connection_failure, decode, server_of, status_failure
from mas_cli.llm.headers import reported_cost_usd
from mas_cli.llm.keys import api_key, base_url, key_env, provider_secrets
from mas_cli.llm.openai_wire import parse_completion, request_body
from mas_cli.llm.types import Completion, LlmFailure, ProviderOptions, Request
from mas_cli.spec.model_spec import ModelSpec

if TYPE_CHECKING:
    import httpx2


class OpenAIProvider:
    """Chat completions with function tools (parallel calls too) and structured output."""

    name = "openai"

    def __init__(self, model: ModelSpec) -> None:
        import openai

        from mas_cli.llm import bounded  # loads httpx2: only with the SDK

        key = api_key(model)
        self._secrets = provider_secrets(key, model.headers.values())
        self._env = key_env(model)
        self._client = openai.AsyncOpenAI(
            api_key=key,
            base_url=base_url(model),
            max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(event_hooks=bounded.HOOKS),
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
            lambda data: parse_completion(data, request),
            body,
        )
        return replace(completion, reported_cost_usd=reported_cost_usd(response.headers))

    async def _send(
        self, body: dict[str, Any], request: Request, endpoint: Endpoint
    ) -> httpx2.Response:
        import openai

        rest = {k: v for k, v in body.items() if k not in ("model", "messages")}
        try:
            raw = await self._client.chat.completions.with_raw_response.create(
                model=body["model"],
                messages=cast(Any, body["messages"]),
                extra_body=rest,
                extra_headers=request.model.headers or None,
                timeout=request.timeout_s,
            )
        except openai.APIStatusError as exc:
            response = exc.response
            raise status_failure(
                endpoint, response.status_code, response.headers, response.content
            ) from None
        except openai.APIConnectionError as exc:
            timed_out = isinstance(exc, openai.APITimeoutError)
            raise connection_failure(
                endpoint, timed_out=timed_out, timeout_s=request.timeout_s
            ) from None
        except openai.OpenAIError as exc:
            raise _sdk_failure(exc) from None
        return raw.http_response

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self._client.close()


def _sdk_failure(exc: Exception) -> LlmFailure:
    # The SDK's own message may quote the request; its type is enough to act on.
    return LlmFailure(f"openai SDK error: {type(exc).__name__}", kind="sdk_error", retryable=False)


def create(model: ModelSpec, options: ProviderOptions) -> OpenAIProvider:  # noqa: ARG001
    """Registry factory.

    Raises:
        MissingKey: the model's key variable is not set.
    """
    return OpenAIProvider(model)
