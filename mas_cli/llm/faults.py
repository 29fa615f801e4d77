"""Provider failures, classified for the engine's retry loop and explained to the user.

    retried       408, 409, 429 (rate limit), 5xx, 529 (overloaded), connection errors, timeouts,
                  waiting at least what retry-after-ms, retry-after or an exhausted rate-limit
                  window's reset asks for
    not retried   400, 401, 403, 404, 422 and every other 4xx; a 429 (or 400, 402, 403) that means
                  the quota or spend limit is exhausted: OpenAI `insufficient_quota`, Anthropic
                  `billing_error` and `*_spend_limit_reached`, a LiteLLM proxy's crossed budget;
                  a 5xx whose body says the request itself is invalid (llama-cpp-python answers
                  a refused response_format with a 500, llama-server a `json_schema` beside a
                  `grammar`); a prompt past the
                  server's context window (OpenAI `context_length_exceeded`, llama.cpp
                  `exceed_context_size_error`, LiteLLM `ContextWindowExceededError`); a
                  malformed response body

Messages hold the status and a short excerpt of what the server said; the whole error body is
scrubbed of every secret the provider holds (its message, code and type alike) before it is read;
never the request, its headers or its key.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from msgspec import Struct

from mas_cli import records
from mas_cli.events.text import loads
from mas_cli.llm.headers import rate_limit_info, retry_after_s
from mas_cli.llm.types import Completion, LlmFailure
from mas_cli.redact import Secrets

EXCERPT_CHARS = 200
RETRIED = frozenset({408, 409, 429, 529})
QUOTA_CODES = frozenset(
    {
        "insufficient_quota",
        "billing_hard_limit_reached",
        "billing_error",
        "enforced_spend_limit_reached",
        "contract_spend_limit_reached",
        "linked_organization_spend_limit_reached",
        "linked_organization_billing_unavailable",
    }
)
# A proxy's own budget, crossed: LiteLLM answers 429 with type `budget_exceeded` (a key's, user's
# or team's budget) or, from its router, "No deployments available - crossed budget" (a model's,
# provider's or tag's). Retrying sends the call into the same refusal until the budget resets.
PROXY_BUDGET_CODE = "budget_exceeded"
PROXY_BUDGET_MARKERS = ("crossed budget", "budget has been exceeded")
CONTEXT_MARKERS = ("context_length_exceeded", "exceed_context_size", "contextwindowexceeded")
# Words of a 5xx body that blame the request, not the server: retrying sends the same request.
INVALID_MARKERS = (
    "invalid_request",
    "badrequest",
    "bad request",
    "not supported",
    "not_supported",
    "unsupported",
    "validation error",
    "invalid request",
    "invalid param",
    "invalid argument",
    "invalid value",
    "invalid type",
    "response_format",
    "cannot use",  # llama-server: "Cannot use both json_schema and grammar" (a 500)
)
KINDS = {
    400: "bad_request",
    401: "auth",
    402: "quota",
    403: "permission",
    404: "not_found",
    408: "request_timeout",
    409: "conflict",
    413: "too_large",
    422: "bad_request",
    429: "rate_limit",
    529: "overloaded",
}


class Malformed(ValueError):
    """A response body that does not follow the wire format; the message says what is wrong."""


class Endpoint(Struct, frozen=True):
    """Who was called, for messages and hints, and the secrets to scrub from what it said."""

    provider: str
    model: str
    env: str | None
    secrets: Secrets
    server: str = ""
    """host:port called, for connection errors (never the URL's path, query or credentials)."""
    local: bool = False
    """The server is a base_url, not the provider's official endpoint."""


OFFICIAL = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}


def server_of(base_url: str | None, provider: str) -> str:
    """`localhost:11434` for a base_url, `api.openai.com:443` for the official endpoint."""
    try:
        url = urlsplit(base_url or OFFICIAL.get(provider, ""))
        port = url.port or (443 if url.scheme == "https" else 80)
    except ValueError:
        return "the server at base_url"
    return f"{url.hostname}:{port}" if url.hostname else "the server at base_url"


def decode(
    endpoint: Endpoint,
    status: int,
    content: bytes,
    parse: Callable[[Any], Completion],
    sent: dict[str, Any],
) -> Completion:
    """A successful response's body as a Completion, keeping both wire bodies in `raw`.

    Raises:
        LlmFailure: kind `malformed` when the body is not JSON or not the wire format.
    """
    try:
        data = loads(content)
    except ValueError:
        raise malformed(endpoint, status, "not JSON", content) from None
    try:
        completion = parse(data)
    except Malformed as exc:
        raise malformed(endpoint, status, str(exc), content) from None
    return records.replace(completion, raw={"request": sent, "response": data})


def status_failure(
    endpoint: Endpoint, status: int, headers: Mapping[str, str], content: bytes
) -> LlmFailure:
    """An HTTP error status, classified: retried or not, how long to wait, what to tell."""
    body = _said(endpoint, content)
    code = _error_code(body)
    kind = _classify(status, code, body)
    retryable = kind not in NOT_RETRIED and (status in RETRIED or status >= 500)
    info = rate_limit_info(headers) if status == 429 else None
    wait = retry_after_s(headers) if retryable else None
    if wait is None and retryable and info is not None:
        wait = info.wait_s()
    message = f"{endpoint.provider} {status} {_label(kind, code, status)}: {excerpt(body)}"
    advice: str | None
    if kind == "context_overflow":
        advice = _context_hint(body)
    elif kind == "quota" and _proxy_budget(code, body):
        advice = (
            "the server's own budget is spent (a proxy's key, team or model budget): raise it "
            "on the server or wait for it to reset, or run offline with --offline"
        )
    else:
        advice = hint(kind, endpoint)
    return LlmFailure(
        message,
        kind=kind,
        retryable=retryable,
        status=status,
        retry_after_s=wait,
        hint=advice,
        rate_limit=info,
    )


NOT_RETRIED = frozenset({"quota", "context_overflow", "bad_request"})


def _classify(status: int, code: str | None, body: Any) -> str:
    said = _lower(body)
    if code in QUOTA_CODES or _proxy_budget(code, body):
        return "quota"
    if any(marker in said for marker in CONTEXT_MARKERS):
        return "context_overflow"
    if status >= 500 and any(marker in said for marker in INVALID_MARKERS):
        return "bad_request"
    return _kind(status)


def _lower(body: Any) -> str:
    return json.dumps(body).lower() if not isinstance(body, str) else body.lower()


def _proxy_budget(code: str | None, body: Any) -> bool:
    """A proxy refusing the call because a budget it keeps is spent (LiteLLM's)."""
    if code == PROXY_BUDGET_CODE:
        return True
    said = (_error_message(body) if isinstance(body, dict) else body) or ""
    return any(marker in _lower(said) for marker in PROXY_BUDGET_MARKERS)


def _label(kind: str, code: str | None, status: int) -> str:
    """`rate_limit`, or `kind (code)` when the code says more (never the status again)."""
    if not code or code.startswith(kind) or code.strip() == str(status):
        return kind
    return f"{kind} ({code})"


def _context_hint(body: Any) -> str:
    """Where to act: the crew's history limit, under the window the server reported."""
    window = _find_int(body, ("n_ctx", "context_window", "max_context_length")) or _said_window(
        body
    )
    server = f"the server's window of {window} tokens" if window else "the server's window"
    return (
        f"the prompt is longer than {server}: lower limits.max_history_tokens below it "
        "(leaving room for max_tokens), or start the server with a larger context"
    )


# The window as servers write it in words, when no field holds it (a proxy passing the message
# on): llama.cpp "exceeds the available context size (1024 tokens)", OpenAI and vLLM "maximum
# context length is 8192 tokens", Anthropic "prompt is too long: 210000 tokens > 200000 maximum".
_WINDOW_SAID = (
    re.compile(r"context (?:size|length|window)(?: is| of)? \(?(\d[\d,]*) tokens"),
    re.compile(r"tokens > (\d[\d,]*) maximum"),
)


def _said_window(body: Any) -> int | None:
    said = (_error_message(body) if isinstance(body, dict) else body) or ""
    for pattern in _WINDOW_SAID:
        found = pattern.search(said)
        if found:
            return int(found.group(1).replace(",", "")) or None
    return None


def _find_int(body: Any, names: tuple[str, ...]) -> int | None:
    error = body.get("error", body) if isinstance(body, dict) else None
    for source in (error, body):
        if isinstance(source, dict):
            found = [source.get(n) for n in names]
            for value in found:
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    return value
    return None


def beyond_reach(wait_s: float | None, cap_s: float, remaining_s: float) -> str | None:
    """Why the wait a server asked for is not worth waiting, or None when it is."""
    if wait_s is None or (wait_s <= cap_s and wait_s <= remaining_s):
        return None
    why = (
        f"max_retry_wait_s is {cap_s:g}s"
        if wait_s > cap_s
        else f"{remaining_s:.0f}s of the run left"
    )
    return f"server asked to retry after {_duration(wait_s)}; giving up ({why})"


def _duration(seconds: float) -> str:
    """11574 days, 3.2 hours, 90 s; `forever` for what is not a finite number."""
    if not math.isfinite(seconds):
        return "forever"
    for unit, size in (("days", 86400.0), ("hours", 3600.0)):
        if seconds >= 2 * size:
            count = seconds / size
            return f"{count:.0f} {unit}" if count < 1e6 else f"{count:.3g} {unit}"
    return f"{seconds:.0f} s"


def connection_failure(endpoint: Endpoint, *, timed_out: bool, timeout_s: float) -> LlmFailure:
    """The server could not be reached, or did not answer in time: both are retried."""
    if timed_out:
        message = f"{endpoint.provider}: no answer within {timeout_s:g}s"
        return LlmFailure(message, kind="timeout", retryable=True)
    server = endpoint.server or "the server"
    fix = "start it, or fix base_url" if endpoint.local else "check the network or proxy"
    return LlmFailure(
        f"{endpoint.provider}: could not connect to {server}",
        kind="connection",
        retryable=True,
        hint=f"is anything listening at {server}? {fix}",
    )


def malformed(endpoint: Endpoint, status: int, reason: str, content: bytes) -> LlmFailure:
    """A response body that is not what the wire format promises; not retried. An error body
    sent with a success status (the LiteLLM proxy's, when it could not translate its upstream's
    answer) is shown as the error it is, not as a server speaking another API."""
    said = _said(endpoint, content)
    if isinstance(said, dict) and _error_message(said) and isinstance(said.get("error"), dict):
        return LlmFailure(
            f"{endpoint.provider} {status} error in a success response: {excerpt(said)}",
            kind="malformed",
            retryable=False,
            status=status,
            hint="the server (or a proxy's upstream) failed although it answered "
            f"{status}: its message says why",
        )
    return LlmFailure(
        f"{endpoint.provider} {status} malformed response: {reason}; body starts: {excerpt(said)}",
        kind="malformed",
        retryable=False,
        status=status,
        hint="the server is not speaking the provider's API; check base_url",
    )


def excerpt(body: Any) -> str:
    """What the server said, short: the error message if there is one."""
    text = _error_message(body) if isinstance(body, dict) else None
    if text is None:
        text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def hint(kind: str, endpoint: Endpoint) -> str | None:
    """How to fix a failure that will not go away by itself."""
    env = endpoint.env
    hints = {
        "auth": f"the server refused the key in {env}; check it"
        if env
        else "this server wants a key: set api_key_env on the model",
        "permission": f"the key has no access to model '{endpoint.model}'",
        "not_found": f"check the model name '{endpoint.model}' and base_url",
        "quota": "the account's quota or spend limit is exhausted: add credit or raise the "
        "limit with the provider, or run offline with --offline",
        "bad_request": "the provider refused the request; its message names the field",
    }
    return hints.get(kind)


def _kind(status: int) -> str:
    if status in KINDS:
        return KINDS[status]
    return "server_error" if status >= 500 else "http_error"


def _error_code(body: Any) -> str | None:
    """The most specific code an error body gives: Anthropic's details.error_code, OpenAI's
    code, then either's type (Anthropic's billing_error is a type)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    details = error.get("details")
    found = [
        details.get("error_code") if isinstance(details, dict) else None,
        error.get("code"),
        error.get("type"),
    ]
    codes = [c for c in found if isinstance(c, str) and c]
    quota = [c for c in codes if c in QUOTA_CODES or c == PROXY_BUDGET_CODE]
    return next(iter(quota or codes), None)


def _error_message(body: dict[str, Any]) -> str | None:
    error = body.get("error", body)
    message = error.get("message") if isinstance(error, dict) else error
    return message if isinstance(message, str) and message else None


def _said(endpoint: Endpoint, content: bytes) -> Any:
    """An error body, every secret the provider holds scrubbed from each of its strings (the
    message, and also `code` and `type`, which servers echo too) before anything reads it."""
    return endpoint.secrets.scrub_value(_json(content))


def _json(content: bytes) -> Any:
    text = content.decode("utf-8", errors="replace")
    try:
        return loads(text)
    except ValueError:
        return text
