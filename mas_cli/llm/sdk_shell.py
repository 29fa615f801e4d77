"""What every provider backed by an official SDK does alike: make the client, send one
attempt, turn the SDK's exceptions into LlmFailure, decode the raw body, close.

One attempt per call: the SDK's own retries are off (max_retries=0) so every attempt is the
engine's, logged and counted. The SDK sends the request (auth, headers, timeout); the raw
response body is read by the provider's wire module, and failures are classified by `faults`.
A provider module says only what differs: the SDK, its client class, the body, the call, the
parse (openai_provider.py, anthropic_provider.py).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from typing import TYPE_CHECKING, Any

from mas_cli import records
from mas_cli.llm.faults import Endpoint, connection_failure, decode, server_of, status_failure
from mas_cli.llm.headers import reported_cost_usd
from mas_cli.llm.keys import api_key, key_env, provider_secrets
from mas_cli.llm.types import Completion, LlmFailure, Request
from mas_cli.spec.model_spec import ModelSpec

if TYPE_CHECKING:
    import httpx2


class SdkProvider:
    """The shell around one SDK client; subclasses fill in the four hooks below."""

    name: str
    sdk: str
    """The SDK's module (`openai`), imported when a client is made, never at start-up."""
    client_class: str
    """Its async client (`AsyncOpenAI`)."""
    base_error: str
    """The root of its exception tree (`OpenAIError`)."""

    def __init__(self, model: ModelSpec, url: str | None) -> None:
        from mas_cli.llm import response_cap  # loads httpx2: only with the SDK

        sdk = importlib.import_module(self.sdk)
        key = api_key(model)
        self._secrets = provider_secrets(key, model.headers.values())
        self._env = key_env(model)
        self._client: Any = getattr(sdk, self.client_class)(
            api_key=key,
            base_url=url,
            max_retries=0,
            http_client=sdk.DefaultAsyncHttpxClient(event_hooks=response_cap.HOOKS),
        )
        # The HTTP stack (anyio) imports its asyncio backend at its first request, about 15
        # modules: here, before the run, not inside the first call, where every task of a
        # parallel crew would wait for it on the event loop (20 tasks at 200 ms: 1.46x -> 1.34x
        # the ideal, bench_concurrency.py). Its one private name: a newer anyio skips this.
        with contextlib.suppress(ImportError):
            importlib.import_module("anyio._backends._asyncio")
        self._know_platform()

    def _know_platform(self) -> None:
        """Tell the client its platform now. The SDK asks for it (its X-Stainless-OS header) at
        its first request, in a worker thread, and again in each request started before that
        answer: 20 thread-pool submissions at the start of a parallel crew of 20 tasks, 2 ms of
        CPU in a thread that takes the GIL from the event loop while every request is being
        built (20 tasks at 200 ms: 240 -> 236 ms, bench/RESULTS.md). Both SDKs' base client
        has `get_platform` and `_platform`; a version without them is left to ask itself."""
        probe = getattr(sys.modules.get(f"{self.sdk}._base_client"), "get_platform", None)
        if callable(probe) and getattr(self._client, "_platform", False) is None:
            with contextlib.suppress(Exception):  # the SDK's own guess failed: it asks later
                self._client._platform = probe()

    def _body(self, request: Request) -> dict[str, Any]:
        raise NotImplementedError

    def _parse(self, data: Any, request: Request) -> Completion:
        raise NotImplementedError

    async def _create(self, body: dict[str, Any], request: Request) -> httpx2.Response:
        """The SDK's call for this body, its HTTP response unparsed."""
        raise NotImplementedError

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
        body = self._body(request)
        response = await self._send(body, request, endpoint)
        completion = decode(
            endpoint,
            response.status_code,
            response.content,
            lambda data: self._parse(data, request),
            body,
        )
        return records.replace(completion, reported_cost_usd=reported_cost_usd(response.headers))

    async def _send(
        self, body: dict[str, Any], request: Request, endpoint: Endpoint
    ) -> httpx2.Response:
        from mas_cli.llm.response_cap import ResponseTooLarge

        sdk = importlib.import_module(self.sdk)
        try:
            return await self._create(body, request)
        except sdk.APIStatusError as exc:
            response = exc.response
            raise status_failure(
                endpoint, response.status_code, response.headers, response.content
            ) from None
        except sdk.APIConnectionError as exc:
            if isinstance(exc.__cause__, ResponseTooLarge):  # the SDK wraps what it does not know
                raise exc.__cause__ from None
            timed_out = isinstance(exc, sdk.APITimeoutError)
            raise connection_failure(
                endpoint, timed_out=timed_out, timeout_s=request.timeout_s
            ) from None
        except getattr(sdk, self.base_error) as exc:
            raise self._sdk_failure(exc) from None

    def _sdk_failure(self, exc: Exception) -> LlmFailure:
        # The SDK's own message may quote the request; its type is enough to act on.
        return LlmFailure(
            f"{self.name} SDK error: {type(exc).__name__}", kind="sdk_error", retryable=False
        )

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self._client.close()
