"""Rate-limit buckets on a fake clock: reservations, refunds, 429 holds, which keys cover a model."""

from __future__ import annotations

import pytest

from mas_cli.engine.ratelimit import RateLimiter, TokenBucket
from mas_cli.llm.types import Completion, LlmFailure, Message, RateLimitInfo, Usage
from mas_cli.spec.model_spec import ModelSpec
from mas_cli.spec.models import CrewSpec


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _spec(rate_limits: dict[str, object], models: dict[str, object] | None = None) -> CrewSpec:
    return CrewSpec.model_validate(
        {
            "name": "c",
            "models": models
            or {"fast": "openai:gpt-4o-mini", "careful": "anthropic:claude-haiku-4-5"},
            "rate_limits": rate_limits,
            "agents": {"a": {"role": "A", "model": "fast"}},
            "tasks": [{"id": "t", "agent": "a", "prompt": "p"}],
        }
    )


FAST = ModelSpec(provider="openai", model="gpt-4o-mini")
CAREFUL = ModelSpec(provider="anthropic", model="claude-haiku-4-5")


def _done(tokens: int) -> Completion:
    return Completion(Message("assistant", "ok"), Usage(input_tokens=tokens, source="provider"))


def test_a_bucket_allows_a_minute_of_burst_then_spaces_requests() -> None:
    bucket = TokenBucket("rpm 60", 60, 60, at=0.0)
    assert [bucket.reserve(1, 0.0) for _ in range(60)] == [0.0] * 60
    assert bucket.reserve(1, 0.0) == pytest.approx(1.0)
    assert bucket.reserve(1, 0.0) == pytest.approx(2.0)
    assert bucket.reserve(1, 10.0) == pytest.approx(0.0)  # 10 s refilled 10 requests; 3 were owed


def test_a_bucket_never_holds_more_than_a_minute() -> None:
    bucket = TokenBucket("tpm 600", 600, 600, at=0.0)
    bucket.give_back(5000, 3600.0)
    assert bucket.level == 600


def test_a_hold_empties_the_bucket_until_the_window_resets() -> None:
    bucket = TokenBucket("rpm 600", 600, 600, at=0.0)
    bucket.hold(remaining=0, reset_s=2.0, now=0.0)
    assert bucket.reserve(1, 0.0) == pytest.approx(2.0 + 0.1)
    other = TokenBucket("rpm 600", 600, 600, at=0.0)
    other.hold(remaining=5, reset_s=2.0, now=0.0)
    assert other.level == 5


def test_a_provider_key_covers_every_model_of_that_provider_and_waits_are_shared() -> None:
    clock = Clock()
    limiter = RateLimiter.for_crew(_spec({"openai": {"rpm": 2}}), clock)
    assert limiter is not None
    assert [limiter.reserve(FAST, 0).wait_s for _ in range(2)] == [0.0, 0.0]
    third = limiter.reserve(FAST.model_copy(update={"model": "gpt-4o"}), 0)
    assert third.wait is not None
    assert (third.wait.key, third.wait.reason, third.wait_s) == (
        "openai",
        "rpm 2",
        pytest.approx(30.0),
    )
    assert limiter.reserve(CAREFUL, 0).wait is None


def test_model_refs_and_model_names_cover_their_models_only() -> None:
    limiter = RateLimiter.for_crew(_spec({"careful": {"rpm": 1}, "gpt-4o-mini": {"rpm": 1}}))
    assert limiter is not None
    for model in (FAST, CAREFUL):
        assert limiter.reserve(model, 0).wait is None
        assert limiter.reserve(model, 0).wait_s == pytest.approx(60.0, abs=0.5)
    assert limiter.reserve(FAST.model_copy(update={"model": "gpt-4o"}), 0).wait is None


def test_tokens_are_reserved_as_planned_and_the_unused_part_given_back() -> None:
    clock = Clock()
    limiter = RateLimiter.for_crew(_spec({"openai": {"tpm": 6000}}), clock)
    assert limiter is not None
    first = limiter.reserve(FAST, 5000)
    assert first.wait is None
    second = limiter.reserve(FAST, 5000)
    assert second.wait_s == pytest.approx(40.0)  # 4000 tokens owed at 100 a second
    first.settle(_done(1000))  # 4000 came back
    assert limiter.reserve(FAST, 0).wait is None


def test_planned_tokens_are_not_counted_without_a_tpm_limit() -> None:
    limiter = RateLimiter.for_crew(_spec({"openai": {"rpm": 10}}))
    assert limiter is not None

    assert not limiter.counts_tokens(FAST)  # so the engine plans the call at 0, uncounted
    assert limiter.reserve(FAST, 5000).tokens == 0


def test_a_failed_call_gives_its_tokens_back_and_a_429_holds_the_buckets() -> None:
    clock = Clock()
    limiter = RateLimiter.for_crew(_spec({"openai": {"rpm": 600, "tpm": 60000}}), clock)
    assert limiter is not None
    ticket = limiter.reserve(FAST, 60000)
    info = RateLimitInfo(remaining_requests=0, reset_requests_s=3.0)
    ticket.settle(LlmFailure("429", kind="rate_limit", retryable=True, status=429, rate_limit=info))
    after = limiter.reserve(FAST, 1)
    assert after.wait is not None
    assert after.wait.reason == "rpm 600 (held after a 429 until the window resets)"
    assert after.wait_s == pytest.approx(3.1)


def test_no_rate_limits_no_limiter() -> None:
    assert RateLimiter.for_crew(_spec({})) is None


def _pacer(spec: CrewSpec, clock: Clock) -> tuple[object, list[float]]:
    """A run context with just what pace reads; the waits it emits are recorded."""
    from types import SimpleNamespace

    waits: list[float] = []
    limiter = RateLimiter.for_crew(spec, clock)
    sink = SimpleNamespace(emit=lambda event, _site: waits.append(event.wait_s))
    return SimpleNamespace(limiter=limiter, crew=SimpleNamespace(spec=spec), sink=sink), waits


def test_a_queue_of_calls_at_one_rpm_never_lets_two_through_in_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three calls at once under `rpm: 1`: each starts a full minute after the one before,
    though max_retry_wait_s (60 s) is shorter than the third call's place in the queue."""
    import asyncio

    from mas_cli.engine import pacing
    from mas_cli.llm.types import CallSite, Request

    clock = Clock()
    ctx, waits = _pacer(_spec({"openai": {"rpm": 1}}), clock)

    async def sleep(seconds: float) -> None:
        clock.now += seconds

    monkeypatch.setattr(pacing.asyncio, "sleep", sleep)
    request = Request(model=FAST, system="", messages=(), site=CallSite(agent="a", task="t"))

    async def three() -> list[float]:
        starts = []
        for _ in range(3):  # reserved together, as three agents would, then each waits its turn
            start = clock.now
            await pacing.pace(ctx, request, 0)  # type: ignore[arg-type]
            starts.append(clock.now - start)
            clock.now = start
        return starts

    assert asyncio.run(three()) == pytest.approx([0.0, 60.0, 120.0])
    assert max(waits) <= 60  # each rate_limited event stays within max_retry_wait_s


def test_a_429_naming_a_far_reset_holds_later_calls_no_longer_than_max_retry_wait_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from mas_cli.engine import pacing
    from mas_cli.llm.types import Request

    clock = Clock()
    ctx, waits = _pacer(_spec({"openai": {"rpm": 600}}), clock)

    async def sleep(seconds: float) -> None:
        clock.now += seconds

    monkeypatch.setattr(pacing.asyncio, "sleep", sleep)
    request = Request(model=FAST, system="", messages=())
    ticket = asyncio.run(pacing.pace(ctx, request, 0))  # type: ignore[arg-type]
    far = RateLimitInfo(remaining_requests=0, reset_requests_s=1e9)  # a reset in year 2058
    ticket.settle(LlmFailure("429", kind="rate_limit", retryable=True, rate_limit=far))
    start = clock.now
    asyncio.run(pacing.pace(ctx, request, 0))  # type: ignore[arg-type]
    assert clock.now - start <= 60 + 0.2
    assert max(waits) <= 60


def test_a_call_planned_past_a_minutes_tokens_waits_for_a_full_bucket_not_longer() -> None:
    """tpm 1,000 and a call planned at 100,000 (its output cap): it can never fit, so it goes
    once the bucket is full, and is charged what it used after, which later calls wait for."""
    clock = Clock()
    limiter = RateLimiter.for_crew(_spec({"openai": {"tpm": 1000}}), clock)
    assert limiter is not None
    first = limiter.reserve(FAST, 100_000)
    assert first.wait is None  # the bucket was full: a whole minute's tokens
    second = limiter.reserve(FAST, 100_000)
    assert second.wait_s == pytest.approx(60.0)  # until the bucket is full again
    first.settle(_done(1500))  # 500 past the minute's 1,000 it held
    assert limiter.reserve(FAST, 0).wait_s == pytest.approx(90.0)  # 1,500 owed at 16.7 a second
