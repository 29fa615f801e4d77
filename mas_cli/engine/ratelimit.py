"""Rate limits: token buckets for requests and tokens per minute, shared by every agent of a run.

A crew's `rate_limits:` keys name a provider (`openai`), a model under `models:` (`fast`) or a
model name (`gpt-4o-mini`); a call passes through every bucket whose key matches its model.
A provider's key covers only models that call that provider itself: a model with a base_url
elsewhere (llama.cpp, vLLM, a proxy) has its own quota, keyed by its models: name.
A bucket holds up to one minute's allowance and refills continuously. Before each attempt a
call reserves one request and its planned tokens (input plus output allowance: the input at
its bound from sizes while that bound is there, else counted as the providers count it; at
most a minute's worth) and waits while the bucket is in debt; afterwards the bucket is
settled to the tokens it used.
A 429 whose headers say a window is exhausted empties the bucket until the reset, so every
agent waits, not just the one that was refused; a reset is held for at most max_retry_wait_s
(a server may name one in year 9999). A call's own place in the queue is never cut short.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from msgspec import Struct, field

from mas_cli.llm.types import Completion, LlmFailure, RateLimitInfo
from mas_cli.spec.model_spec import ModelSpec
from mas_cli.spec.models import CrewSpec
from mas_cli.spec.providers import PROVIDERS

Clock = Callable[[], float]


class TokenBucket(Struct):
    """Up to `per_minute` units, refilled per_minute/60 a second; reservations may run into debt."""

    label: str
    per_minute: float
    level: float
    at: float
    held_until: float = 0.0

    def reserve(self, amount: float, now: float) -> float:
        """Take `amount` (at most a minute's: see `_held`); the seconds to wait before using it
        (0 when it was there)."""
        self._refill(now)
        self.level -= _held(amount, self)
        return max(0.0, -self.level / self._per_s)

    def holds(self, amount: float, now: float) -> bool:
        """Whether `amount` is there now: reserving it would not wait."""
        self._refill(now)
        return self.level >= amount

    def give_back(self, amount: float, now: float) -> None:
        """Return unused units (a negative amount takes more)."""
        self._refill(now)
        self.level = min(self.per_minute, self.level + amount)

    def hold(self, remaining: int | None, reset_s: float | None, now: float) -> None:
        """Adapt to what the server said: at most `remaining` left, none until a reset if 0."""
        self._refill(now)
        if remaining is not None:
            self.level = min(self.level, remaining)
        if remaining == 0 and reset_s:
            self.level = min(self.level, -reset_s * self._per_s)
            self.held_until = now + reset_s

    @property
    def _per_s(self) -> float:
        return self.per_minute / 60

    def _refill(self, now: float) -> None:
        self.level = min(self.per_minute, self.level + (now - self.at) * self._per_s)
        self.at = now


class Limit(Struct, frozen=True):
    """One `rate_limits:` entry: which models it covers, and its buckets."""

    key: str
    covers: Callable[[ModelSpec], bool]
    rpm: TokenBucket | None
    tpm: TokenBucket | None


class Wait(Struct, frozen=True):
    """The longest wait a reservation needs, and the bucket that imposes it."""

    key: str
    reason: str
    wait_s: float


class Ticket(Struct):
    """One attempt's reservation; settled with the attempt's result."""

    limits: list[Limit] = field(default_factory=list)
    tokens: int = 0
    wait: Wait | None = None
    clock: Clock = time.monotonic
    max_hold_s: float = math.inf

    @property
    def wait_s(self) -> float:
        """Seconds to wait before the attempt."""
        return self.wait.wait_s if self.wait else 0.0

    def settle(self, result: object) -> None:
        """Give back unused tokens; after a 429, adapt every bucket to its headers."""
        now = self.clock()
        if isinstance(result, Completion):
            self._give_back(result.usage.total, now)
        elif isinstance(result, LlmFailure):
            self._give_back(0, now)
            if result.rate_limit is not None:
                self._hold(result.rate_limit, now)

    def _give_back(self, used: int, now: float) -> None:
        """Give each bucket what it held past `used` (or take what was used past it)."""
        for limit in self.limits:
            if limit.tpm is not None:
                limit.tpm.give_back(_held(self.tokens, limit.tpm) - used, now)

    def _hold(self, info: RateLimitInfo, now: float) -> None:
        requests_s, tokens_s = (
            None if reset is None else min(reset, self.max_hold_s)
            for reset in (info.reset_requests_s, info.reset_tokens_s)
        )
        for limit in self.limits:
            if limit.rpm is not None:
                limit.rpm.hold(info.remaining_requests, requests_s, now)
            if limit.tpm is not None:
                limit.tpm.hold(info.remaining_tokens, tokens_s, now)


class RateLimiter(Struct):
    """Every bucket of a run."""

    limits: list[Limit]
    clock: Clock = time.monotonic
    max_hold_s: float = math.inf  # the longest a 429's reset holds a bucket

    @classmethod
    def for_crew(cls, spec: CrewSpec, clock: Clock = time.monotonic) -> RateLimiter | None:
        """The crew's limits, all buckets full; None when it has none."""
        now = clock()
        limits = [
            Limit(key, _covers(spec, key), _bucket("rpm", r.rpm, now), _bucket("tpm", r.tpm, now))
            for key, r in spec.rate_limits.items()
        ]
        hold_s = spec.limits.max_retry_wait_s
        return cls(limits, clock, hold_s) if limits else None

    def counts_tokens(self, model: ModelSpec) -> bool:
        """Whether a bucket covering this model counts tokens (so a call must be planned)."""
        return any(limit.tpm for limit in self.limits if limit.covers(model))

    def holds(self, model: ModelSpec, tokens: int) -> bool:
        """Whether every tokens-per-minute bucket covering this model has `tokens` now."""
        now = self.clock()
        covering = (limit.tpm for limit in self.limits if limit.covers(model))
        return all(bucket.holds(tokens, now) for bucket in covering if bucket is not None)

    def reserve(self, model: ModelSpec, planned_tokens: int) -> Ticket:
        """Reserve one request and its planned tokens in every bucket covering this model."""
        limits = [limit for limit in self.limits if limit.covers(model)]
        if not limits:
            return Ticket()
        now = self.clock()
        tokens = planned_tokens if any(limit.tpm for limit in limits) else 0
        waits = [
            _wait(limit.key, bucket, bucket.reserve(amount, now), now)
            for limit in limits
            for bucket, amount in ((limit.rpm, 1), (limit.tpm, tokens))
            if bucket is not None
        ]
        longest = max(waits, key=lambda w: w.wait_s)
        wait = longest if longest.wait_s > 0 else None
        return Ticket(limits, tokens, wait, self.clock, self.max_hold_s)


def _held(tokens: float, bucket: TokenBucket) -> float:
    """What a call planned at `tokens` holds in a bucket: never more than a minute's allowance,
    or a call bigger than the bucket would wait past a full bucket, for nothing (what it
    really uses is taken when it settles, and later calls wait for that)."""
    return min(tokens, bucket.per_minute)


def _covers(spec: CrewSpec, key: str) -> Callable[[ModelSpec], bool]:
    if key in PROVIDERS:
        return lambda model: model.provider == key and _provider_itself(model)
    if key in spec.models:
        named = spec.models[key]
        return lambda model: model == named
    return lambda model: model.model == key


OWN_HOSTS = ("api.openai.com", "api.anthropic.com")


def _provider_itself(model: ModelSpec) -> bool:
    """The model calls its provider's own endpoint (no base_url, or the provider's host)."""
    if not model.base_url:
        return True
    from urllib.parse import urlsplit

    return urlsplit(model.base_url).hostname in OWN_HOSTS


def _bucket(unit: str, per_minute: int | None, now: float) -> TokenBucket | None:
    if per_minute is None:
        return None
    return TokenBucket(f"{unit} {per_minute}", per_minute, per_minute, now)


def _wait(key: str, bucket: TokenBucket, wait_s: float, now: float) -> Wait:
    held = " (held after a 429 until the window resets)" if bucket.held_until > now else ""
    return Wait(key, bucket.label + held, wait_s)
