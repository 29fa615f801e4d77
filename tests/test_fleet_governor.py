"""The governor the batch workflow holds (mas_cli.fleet.governor): budget leases over every
worker, calls in flight included, and sliding rate windows; pure, so tested without Temporal.
The tier (tests/realservers/test_temporal.py) checks the same through a real server."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mas_cli.fleet.governor import LEASE_S, WINDOW_S, Governor
from mas_cli.fleet.messages import Ask, Budget, Rate, Settle


def ask(lease: str, *, tokens: int = 100, cost: str = "0.01", rates: list[str] | None = None,
        item: str = "a", attempt: int = 1, planned: int = 100) -> Ask:  # fmt: skip
    return Ask(item, attempt, lease, tokens, cost, rates or [], planned)


def test_calls_in_flight_hold_their_worst_case_until_settled() -> None:
    gov = Governor(Budget(max_cost_usd=0.025), [])
    assert gov.lease(ask("1"), 0).ok
    assert gov.lease(ask("2"), 0).ok
    refused = gov.lease(ask("3"), 0)  # two held at 0.01 each: a third would pass 0.025
    assert (refused.ok, refused.kind, refused.threshold) == (False, "max_cost_usd", 0.025)
    assert refused.value == pytest.approx(0.03)
    gov.settle(Settle("1", 50, "0.001"))  # the rest of its hold comes back
    assert gov.cost == Decimal("0.001")
    assert gov.hit is not None  # the first refusal stays: the batch starts no new item


def test_a_lease_never_settled_counts_as_spent() -> None:
    gov = Governor(Budget(max_llm_calls=2), [])
    assert gov.lease(ask("lost"), 0).ok  # its worker dies with the call in flight
    assert gov.lease(ask("1"), 0).ok
    gov.settle(Settle("1", 10, "0"))
    assert gov.spent_calls == 2
    assert gov.lease(ask("2"), 0).kind == "max_llm_calls"


def test_a_settlement_sent_twice_counts_once_and_unmade_calls_count_nothing() -> None:
    gov = Governor(Budget(max_tokens=1000), [])
    gov.lease(ask("1"), 0)
    gov.settle(Settle("1", 60, "0.002"))
    gov.settle(Settle("1", 60, "0.002"))
    gov.lease(ask("2"), 0)
    gov.settle(Settle("2", made=False))
    assert (gov.llm_calls, gov.tokens, gov.cost, gov.held) == (1, 60, Decimal("0.002"), {})


def test_the_rpm_window_spans_a_minute_and_the_lease_time() -> None:
    gov = Governor(Budget(), [Rate("fast", rpm=3)])
    for n in range(3):
        assert gov.lease(ask(str(n), rates=["fast"]), float(n)).ok
    wait = gov.lease(ask("x", rates=["fast"]), 10.0)
    assert not wait.ok
    assert wait.wait_s == pytest.approx(WINDOW_S + LEASE_S - 10.0)
    assert gov.lease(ask("x", rates=["fast"]), WINDOW_S + LEASE_S).ok
    assert gov.lease(ask("y", rates=["other"]), 10.0).ok  # a key the crew has no limit for


def test_the_tpm_window_counts_planned_tokens() -> None:
    gov = Governor(Budget(), [Rate("fast", tpm=1000)])
    assert gov.lease(ask("1", rates=["fast"], planned=600), 0).ok
    assert gov.lease(ask("2", rates=["fast"], planned=300), 5).ok
    wait = gov.lease(ask("3", rates=["fast"], planned=300), 6)
    assert wait.wait_s == pytest.approx(WINDOW_S + LEASE_S - 6)


def test_an_attempt_given_up_on_leases_nothing_more() -> None:
    gov = Governor(Budget(), [])
    gov.attempt("a", 2)
    assert gov.lease(ask("1", attempt=1), 0).superseded
    assert gov.lease(ask("2", attempt=2), 0).ok


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 300, allow_nan=False), min_size=1, max_size=120), st.integers(1, 20))
@example(times=[54.0, 54.0, 46.21875, 53.203125], rpm=1)  # float sums 4e-14 s short of a minute
def test_no_minute_ever_holds_more_than_rpm_requests(times: list[float], rpm: int) -> None:
    """Workers ask at any times, and send each admitted request within LEASE_S of asking:
    however they fall, no 60 s holds more than rpm requests."""
    gov = Governor(Budget(), [Rate("k", rpm=rpm)])
    sent: list[float] = []
    now = 0.0
    for n, at in enumerate(sorted(times)):
        now = max(now, at)  # the workflow's clock never goes back
        while not (grant := gov.lease(ask(str(n), rates=["k"]), now)).ok:
            now += grant.wait_s
        sent.append(now + LEASE_S * (n % 3) / 2)  # sent any time within the lease
    sent.sort()
    start = 0
    for end, at in enumerate(sent):
        # The workflow's clock and the waits are in milliseconds; a float sum such as
        # 186.219125 + 70.0 lands 4e-14 s short of its exact value, which is no request early.
        while at - sent[start] >= WINDOW_S - 1e-9:
            start += 1
        assert end - start + 1 <= rpm
