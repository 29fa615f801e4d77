"""What response headers say about waiting: retry-after, and the rate-limit windows.

    retry-after-ms                         milliseconds (OpenAI, Anthropic)
    retry-after                            seconds, or an HTTP date
    x-ratelimit-remaining-{requests,tokens}, x-ratelimit-reset-*     OpenAI: durations ("6m0s")
    anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{remaining,reset}
                                           Anthropic: RFC 3339 times

Unparseable values are ignored: a header never turns a fault into a crash.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from mas_cli.llm.types import RateLimitInfo

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_ANTHROPIC_TOKENS = ("tokens", "input-tokens", "output-tokens")


def retry_after_s(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """The wait a server asked for, in seconds: retry-after-ms first, then retry-after."""
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    return seconds if seconds is not None else _until(_http_date(value), now)


def reported_cost_usd(headers: Mapping[str, str]) -> float | None:
    """The call's cost as a proxy reported it (LiteLLM's x-litellm-response-cost); None when
    absent or zero (LiteLLM says 0 for a model it has no price for)."""
    cost = _number(headers.get("x-litellm-response-cost"))
    return cost if cost is not None and cost > 0 else None


def rate_limit_info(
    headers: Mapping[str, str], now: datetime | None = None
) -> RateLimitInfo | None:
    """The remaining requests and tokens and their resets, from either provider's headers."""
    info = RateLimitInfo(
        remaining_requests=_int(headers.get("x-ratelimit-remaining-requests")),
        remaining_tokens=_int(headers.get("x-ratelimit-remaining-tokens")),
        reset_requests_s=duration_s(headers.get("x-ratelimit-reset-requests")),
        reset_tokens_s=duration_s(headers.get("x-ratelimit-reset-tokens")),
    )
    if info == RateLimitInfo():
        info = _anthropic_info(headers, now)
    return None if info == RateLimitInfo() else info


def _anthropic_info(headers: Mapping[str, str], now: datetime | None) -> RateLimitInfo:
    prefix = "anthropic-ratelimit-"
    tokens = [
        (_int(headers.get(f"{prefix}{kind}-remaining")), headers.get(f"{prefix}{kind}-reset"))
        for kind in _ANTHROPIC_TOKENS
    ]
    known = [(left, reset) for left, reset in tokens if left is not None]
    # The tightest token window is the one that binds.
    left, reset = min(known, key=lambda pair: pair[0]) if known else (None, None)
    return RateLimitInfo(
        remaining_requests=_int(headers.get(f"{prefix}requests-remaining")),
        remaining_tokens=left,
        reset_requests_s=_until(_iso(headers.get(f"{prefix}requests-reset")), now),
        reset_tokens_s=_until(_iso(reset), now),
    )


def duration_s(text: str | None) -> float | None:
    """`6m0s`, `1.5s`, `20ms` or a bare number of seconds, in seconds."""
    if not text:
        return None
    plain = _number(text)
    if plain is not None:
        return plain
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return None
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and value >= 0 else None  # `inf`: a wait of forever


def _int(text: str | None) -> int | None:
    """A count; `inf` and `1e400` are no count (an int of them would raise): as absent."""
    value = _number(text)
    return int(value) if value is not None and value < math.inf else None


def _http_date(text: str) -> datetime | None:
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None


def _iso(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def _until(when: datetime | None, now: datetime | None) -> float | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
