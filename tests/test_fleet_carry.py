"""What the batch workflow hands on when it continues as new (fleet/messages.Carry): taken,
sent through Temporal's own data converter (JSON, as the server stores it) and taken over, the
governor answers every later lease exactly as the one it was taken of would, and the counters,
the feed position, the breaker and the items not started are the same. The tier
(tests/realservers/test_temporal.py) continues a real batch as new several times."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mas_cli.errors import UsageError
from mas_cli.fleet.governor import Governor
from mas_cli.fleet.messages import (
    Ask,
    BatchStart,
    Budget,
    Carry,
    ItemIn,
    Rate,
    Settle,
    Status,
)
from mas_cli.fleet.submit import CONTINUE_ENV, continue_at
from mas_cli.fleet.workflow import BatchWorkflow

RATES = [Rate("fast", rpm=4, tpm=900), Rate("slow", rpm=2)]
BUDGET = Budget(max_cost_usd=0.2, max_llm_calls=40, max_tokens=5000)


def through_temporal(value: Any, kind: type) -> Any:
    """`value` as the next run receives it: encoded to payloads and decoded back."""

    from temporalio.converter import DataConverter

    async def trip() -> Any:
        converter = DataConverter.default
        [back] = await converter.decode(await converter.encode([value]), [kind])
        return back

    return asyncio.run(trip())


# One step: lease (item, tokens, cents, rate keys, planned) at a time, or settle lease n.
lease_steps = st.tuples(
    st.just("lease"),
    st.sampled_from(["a", "b", "c"]),
    st.integers(1, 400),
    st.integers(0, 3),
    st.lists(st.sampled_from(["fast", "slow", "none"]), max_size=2),
    st.integers(1, 400),
)
settle_steps = st.tuples(st.just("settle"), st.integers(0, 30), st.integers(0, 200), st.booleans())
attempt_steps = st.tuples(st.just("attempt"), st.sampled_from(["a", "b", "c"]), st.integers(1, 3))
steps = st.lists(st.one_of(lease_steps, settle_steps, attempt_steps), max_size=60)


def play(gov: Governor, plan: list[tuple[Any, ...]], first: int) -> list[Any]:
    """Run the steps on `gov` (the clock moves 1.5 s a step); what each lease answered."""
    answers: list[Any] = []
    for n, step in enumerate(plan, start=first):
        now = n * 1.5
        if step[0] == "lease":
            _, item, tokens, cents, rates, planned = step
            ask = Ask(item, 1 + n % 2, f"L{n}", tokens, str(Decimal(cents) / 100), rates, planned)
            answers.append(gov.lease(ask, now))
        elif step[0] == "settle":
            _, lease, tokens, made = step
            gov.settle(Settle(f"L{lease}", tokens, str(Decimal(tokens) / 10**6), made))
        else:
            gov.attempt(step[1], step[2])
    return answers


@settings(max_examples=80, deadline=None)
@given(steps, steps)
def test_a_governor_taken_over_answers_as_the_one_it_was_taken_of(
    before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]
) -> None:
    kept = Governor(BUDGET, RATES)
    play(kept, before, 0)
    ledger = through_temporal(kept.ledger(), type(kept.ledger()))
    taken = Governor.resumed(BUDGET, RATES, ledger)
    assert taken.ledger() == kept.ledger()
    assert play(taken, after, len(before)) == play(kept, after, len(before))
    assert taken.ledger() == kept.ledger()
    assert (taken.spent_calls, taken.held_cost) == (kept.spent_calls, kept.held_cost)


def test_leases_outstanding_and_the_first_refusal_survive() -> None:
    gov = Governor(Budget(max_llm_calls=3), [Rate("fast", rpm=2)])
    assert gov.lease(Ask("a", 1, "lost", 10, "0.5", ["fast"], 10), 0).ok  # never settled
    assert gov.lease(Ask("b", 1, "paid", 10, "0.5", ["fast"], 10), 1).ok
    gov.settle(Settle("paid", 7, "0.25"))
    gov.attempt("c", 3)
    assert gov.lease(Ask("d", 1, "x", 10, "0", ["fast"], 10), 2).wait_s > 0  # the rpm binds
    gov.lease(Ask("e", 1, "y", 10, "0", [], 10), 3)
    assert gov.lease(Ask("f", 1, "z", 10, "0", [], 10), 3).kind == "max_llm_calls"
    ledger = through_temporal(gov.ledger(), type(gov.ledger()))
    taken = Governor.resumed(Budget(max_llm_calls=3), [Rate("fast", rpm=2)], ledger)
    assert set(taken.held) == {"lost", "y"}
    assert (taken.llm_calls, taken.tokens, taken.cost) == (1, 7, Decimal("0.25"))
    assert taken.hit is not None
    assert taken.hit.kind == "max_llm_calls"
    assert taken.lease(Ask("c", 2, "old", 1, "0", [], 1), 4).superseded
    assert taken.lease(Ask("d", 1, "x2", 1, "0", ["fast"], 1), 4).ok is False  # still binds


def start(carry: Carry | None = None) -> BatchStart:
    return BatchStart("b-1", "fraud-review", 4, 5, False, BUDGET, RATES, 500, carry)


def test_the_workflow_takes_over_its_counters_queue_and_breaker() -> None:
    first = BatchWorkflow(start())
    first.status = Status(fed=812, ok=700, failed=9, stopped=1, duplicates=3, runs=2)
    first.started = 710
    first.queue.extend(ItemIn(f"k{n}", 700 + n, {"transaction": f"tx-{n}"}) for n in range(5))
    first.breaker.failed("HTTP 500", "boom", "b-1", 690)
    first.breaker.failed("HTTP 500", "boom", "b-1", 695)
    first.governor.lease(Ask("k1", 1, "held", 10, "0.01", ["fast"], 10), 0)
    carry = first.carry()
    sent = through_temporal(start(carry), BatchStart)
    assert sent.carry == carry

    second = BatchWorkflow(sent)
    assert list(second.queue) == list(first.queue)
    assert second.started == 710
    assert (second.breaker.last, second.breaker.streak, second.breaker.since) == (
        "HTTP 500",
        2,
        690,
    )
    assert second.status == replace(first.status, runs=3)
    assert second.governor.ledger() == first.governor.ledger()
    assert second.recordings == {}  # a run hands on with no item in flight
    again = second.carry()  # the next hand-over carries the same, one run later
    assert replace(again, status=replace(again.status, runs=2)) == carry


def test_the_continue_threshold_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(CONTINUE_ENV, raising=False)
    assert continue_at() == 10_000
    monkeypatch.setenv(CONTINUE_ENV, "300")
    assert continue_at() == 300
    for bad in ("12", "lots", "-5", "39000"):
        monkeypatch.setenv(CONTINUE_ENV, bad)
        with pytest.raises(UsageError) as caught:
            continue_at()
        assert CONTINUE_ENV in str(caught.value)
        assert "100 to 35,000" in (caught.value.hint or "")
