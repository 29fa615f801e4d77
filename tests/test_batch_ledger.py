"""The ledger a batch's runs share: calls in flight hold their worst case, settled after."""

from __future__ import annotations

from decimal import Decimal

from mas_cli.engine.ledger import Ledger


def test_calls_in_flight_hold_their_worst_case_until_settled() -> None:
    ledger = Ledger(max_cost_usd=1.0)
    assert ledger.check("a", "t", 100, Decimal("0.4")) is None
    assert ledger.check("a", "t", 100, Decimal("0.4")) is None
    refused = ledger.check("b", "u", 100, Decimal("0.4"))  # 1.2 with the two in flight
    assert refused is not None
    assert refused.scope == "batch"
    assert refused.message == (
        "stopped: max_cost_usd 1 for the batch would be passed (1.2) by agent b on task u"
    )
    assert ledger.hit == refused
    assert ledger.settle("a", "t", 50, Decimal("0.1"), (100, Decimal("0.4"))) is None
    assert ledger.check("b", "u", 100, Decimal("0.4")) is None  # 0.1 spent + 0.4 held + 0.4
    assert (ledger.llm_calls, ledger.held_calls) == (1, 2)


def test_a_call_billed_above_its_bound_is_reported_passed() -> None:
    ledger = Ledger(max_tokens=1000)
    assert ledger.check("a", "t", 900, Decimal(0)) is None
    hit = ledger.settle("a", "t", 1500, Decimal(0), (900, Decimal(0)))
    assert hit is not None
    assert hit.passed
    assert hit.kind == "max_tokens"
    assert ledger.held_tokens == 0


def test_the_call_count_counts_calls_in_flight() -> None:
    ledger = Ledger(max_llm_calls=2)
    assert ledger.check("a", "t", 1, Decimal(0)) is None
    assert ledger.check("a", "t", 1, Decimal(0)) is None
    hit = ledger.check("a", "t", 1, Decimal(0))
    assert hit is not None
    assert hit.message == "stopped: max_llm_calls 2 for the batch reached by agent a on task t"


def test_no_limits_refuse_nothing() -> None:
    ledger = Ledger()
    for _ in range(1000):
        assert ledger.check("a", "t", 10**9, Decimal(10**6)) is None
