"""The models a crew names, their prices and rate limits: the crew file's `models:`, `prices:`
and `rate_limits:` sections (re-exported by `mas_cli.spec.models`)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from mas_cli.spec.base import MAX_WHOLE, Spec
from mas_cli.spec.providers import PROVIDERS, Provider

StructuredOutput = Literal["json_schema", "json_object", "none"]
DEFAULT_OUTPUT_TOKENS = 4096  # the output cap sent, and planned for, when a model sets none
# `params` that would widen the output the budget plans for: what to use instead.
MAX_TOKENS_FIX = "set the model's own max_tokens instead (sent with every call, and planned for)"
WIDENING_PARAMS = {
    "max_tokens": MAX_TOKENS_FIX,
    "max_completion_tokens": MAX_TOKENS_FIX,
    "max_output_tokens": MAX_TOKENS_FIX,
    "max_new_tokens": MAX_TOKENS_FIX,
    # llama-server takes its own n_predict over max_tokens (-1: until the context is full), and
    # LiteLLM passes it through; num_predict is Ollama's name for it.
    "n_predict": MAX_TOKENS_FIX,
    "num_predict": MAX_TOKENS_FIX,
    "n": "remove it: mas reads one answer per call, and n > 1 multiplies the billed output",
    "n_cmpl": "remove it: mas reads one answer per call, and n_cmpl > 1 multiplies the billed "
    "output",
    "best_of": "remove it: best_of > 1 bills every candidate's output",
}
# `params` that would replace what mas itself sends (they go in last): the model a call is
# priced and budgeted at, the conversation, the tools, one JSON answer.
OWN_FIELDS = {
    "model": "name the model in the model's own `model:` (the one its price and budget use)",
    "messages": "remove it: mas sends the task's conversation",
    "system": "remove it: mas sends the agent's role and goal as the system prompt",
    "tools": "give the agent tools: in the crew file",
    "stream": "remove it: mas reads each answer whole",
}


def parse_model_shorthand(text: str) -> dict[str, str] | None:
    """`openai:gpt-4o-mini` -> {provider, model}; `offline` -> the offline model; else None."""
    if text == "offline":
        return {"provider": "offline", "model": "offline"}
    provider, sep, model = text.partition(":")
    if sep and provider in PROVIDERS and model:
        return {"provider": provider, "model": model}
    return None


def _model_value(text: str) -> dict[str, str] | str:
    """A shorthand as its mapping; `openia:gpt-4o-mini` too, so the provider is what is refused."""
    provider, sep, model = text.partition(":")
    if sep and provider and model and provider not in PROVIDERS:
        return {"provider": provider, "model": model}
    return parse_model_shorthand(text) or text


EXAMPLE_URL = "http://127.0.0.1:8080/v1"


def url_problem(url: str) -> str | None:
    """What keeps a base_url from being an http(s) URL an SDK can call; None when it is one.
    Never the URL itself: it may hold a password."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a bracket left open, a port that is no number or past 65535
        return f"is not a URL ({str(exc).split(' as ')[0].lower()})"
    if parts.scheme.lower() not in ("http", "https"):
        return "needs http:// or https:// at its start"
    if not parts.hostname:
        return "names no host"
    if port == 0:
        return "has port 0"
    if parts.query or parts.fragment:
        # The SDKs append the API's path to the whole URL: `/v1?x=1` calls `/v1?x=1/chat/...`.
        return "has a query or a fragment (after ? or #), which the SDK would send before the path"
    return None


class ModelSpec(Spec):
    """A model a crew can use: which provider, which model, and how to call it."""

    provider: Provider
    """`openai` (also any OpenAI-compatible server through base_url), `anthropic` or `offline`."""
    model: str
    """The provider's model name, e.g. gpt-4o-mini or claude-sonnet-4-5."""
    base_url: str | None = None
    """Endpoint of an OpenAI-compatible server (Ollama, vLLM, OpenRouter, ...)."""
    api_key_env: str | None = None
    """Environment variable holding the key. Default: OPENAI_API_KEY or ANTHROPIC_API_KEY, but
    none with base_url (a local server gets a placeholder, never the provider's own key)."""
    temperature: float | None = Field(default=None, ge=0, le=2)
    """Sampling temperature; the provider's default when absent."""
    max_tokens: int | None = Field(default=None, gt=0, le=MAX_WHOLE)
    """Most output tokens per call (4096 when absent): sent with every request, and the worst
    case the budget guard plans for."""
    headers: dict[str, str] = {}
    """Extra HTTP headers sent with every request (never logged)."""
    params: dict[str, Any] = {}
    """Extra request parameters passed to the provider as they are (top_p, seed, ...)."""
    prompt_caching: bool = False
    """Anthropic only: mark the system prompt and tools with cache_control."""
    structured_output: StructuredOutput = "json_schema"
    """How an output_schema is asked for (OpenAI wire): `json_schema` (OpenAI, vLLM, llama.cpp,
    Ollama), `json_object` (llama-cpp-python's server), `none` (the prompt only). Never sent
    while the task offers tools, whose calls it would silence; answers are validated anyway."""

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        # An SDK takes what urlsplit takes, then fails mid-run on a bad port or a bracket.
        if url is not None:
            problem = url_problem(url)
            if problem:
                raise ValueError(
                    f"base_url {problem}: write it as http://HOST:PORT/v1, e.g. {EXAMPLE_URL}"
                )
        return url

    @field_validator("headers")
    @classmethod
    def _http_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        # HTTP carries header names as tokens and values as printable ASCII; say so at load time.
        for name, value in headers.items():
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
                raise ValueError(f"header name {name!r} must be ASCII letters, digits or -")
            if not (value.isascii() and value.isprintable()):
                raise ValueError(f"the value of header {name!r} must be printable ASCII")
        return headers

    @field_validator("params")
    @classmethod
    def _params_cannot_widen_output(cls, params: dict[str, Any]) -> dict[str, Any]:
        for key, fix in OWN_FIELDS.items():
            if key in params:
                raise ValueError(f"{key} cannot be set in params; {fix}")
        for key, fix in WIDENING_PARAMS.items():
            value = params.get(key)
            one = key in ("n", "n_cmpl", "best_of") and type(value) is int and value == 1
            if key in params and not one:
                raise ValueError(f"{key} would widen the output the budget plans for; {fix}")
        return params

    @property
    def output_cap(self) -> int:
        """The most output tokens one call may produce: sent with every request, and planned
        for by the budget guard."""
        return self.max_tokens or DEFAULT_OUTPUT_TOKENS


MAX_PRICE = 1_000_000_000
"""$1,000 a token, in dollars per million tokens: past it a price is a typo (and 1e400 would
overflow the budget's arithmetic). The price cache refuses the same."""


class PriceSpec(Spec):
    """What a model costs, in dollars per million tokens; overrides or adds to genai-prices."""

    input: Decimal = Field(ge=0, le=MAX_PRICE)
    """Input tokens that were not read from or written to a prompt cache."""
    output: Decimal = Field(ge=0, le=MAX_PRICE)
    """Output tokens, reasoning included."""
    cached_input: Decimal | None = Field(default=None, ge=0, le=MAX_PRICE)
    """Input tokens read from a prompt cache; the input price when absent."""
    cache_write: Decimal | None = Field(default=None, ge=0, le=MAX_PRICE)
    """Input tokens written to a prompt cache; the input price when absent."""


class RateLimit(Spec):
    """Requests and tokens per minute for one provider or model, shared by every agent."""

    rpm: int | None = Field(default=None, gt=0, le=MAX_WHOLE)
    """Requests per minute."""
    tpm: int | None = Field(default=None, gt=0, le=MAX_WHOLE)
    """Tokens per minute (input plus output)."""
