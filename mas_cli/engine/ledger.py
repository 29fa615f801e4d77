"""A budget shared by many runs (a batch): model calls, tokens and dollars across all of them.

It works as a run's own budget does (engine/guards.py): a call is checked against its worst
case and holds it while in flight, so runs calling at once cannot pass the budget together;
after the call its hold is released and its spend settled. The guard of every run that shares
the ledger asks it last, after the run's own limits; the runs never know who else shares it.
"""

from __future__ import annotations

from decimal import Decimal

from msgspec import Struct, field

from mas_cli.engine.outcomes import LimitHit, LimitKind


class Ledger(Struct):
    """What every run sharing it has spent and holds, against limits of its own (None: none)."""

    max_llm_calls: int | None = None
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    llm_calls: int = 0
    tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    held_calls: int = 0
    held_tokens: int = 0
    held_cost: Decimal = field(default_factory=Decimal)
    hit: LimitHit | None = None
    """The first limit the ledger refused a call at: the batch starts no new run after it."""

    def check(
        self, agent: str, task: str, worst_tokens: int, worst_cost: Decimal
    ) -> LimitHit | None:
        """May a call that could spend this much be made? If so it is held until `settle`."""
        checks: list[tuple[LimitKind, Decimal, float | None]] = [
            ("max_llm_calls", Decimal(self.llm_calls + self.held_calls + 1), self.max_llm_calls),
            ("max_tokens", Decimal(self.tokens + self.held_tokens + worst_tokens), self.max_tokens),
            ("max_cost_usd", self.cost_usd + self.held_cost + worst_cost, self.max_cost_usd),
        ]
        hit = _first_over(checks, agent, task, passed=False)
        if hit is not None:
            self.hit = self.hit or hit
            return hit
        self._hold(worst_tokens, worst_cost, 1)
        return None

    def settle(
        self, agent: str, task: str, tokens: int, cost: Decimal, held: tuple[int, Decimal]
    ) -> LimitHit | None:
        """A call held by `check` ended: release its hold, count what it spent.

        Returns a hit when the spend passed a budget (a server billed above the call's bound).
        """
        self._hold(held[0], held[1], -1)
        self.llm_calls += 1
        self.tokens += tokens
        self.cost_usd += cost
        checks: list[tuple[LimitKind, Decimal, float | None]] = [
            ("max_tokens", Decimal(self.tokens), self.max_tokens),
            ("max_cost_usd", self.cost_usd, self.max_cost_usd),
        ]
        return _first_over(checks, agent, task, passed=True)

    def release(self, held: tuple[int, Decimal]) -> None:
        """A call held by `check` was not made: release its hold, count nothing."""
        self._hold(held[0], held[1], -1)

    def _hold(self, tokens: int, cost: Decimal, sign: int) -> None:
        self.held_calls += sign
        self.held_tokens += sign * tokens
        self.held_cost += sign * cost


def _first_over(
    checks: list[tuple[LimitKind, Decimal, float | None]], agent: str, task: str, *, passed: bool
) -> LimitHit | None:
    for kind, value, threshold in checks:
        if threshold is not None and value > Decimal(str(threshold)):
            shown = int(value) if kind != "max_cost_usd" else round(float(value), 6)
            return LimitHit(kind, shown, threshold, "batch", agent, task, passed=passed)
    return None
