"""The batch's budget and rate limits for every worker together: the workflow holds one
Governor, and each model attempt on any worker leases from it first.

A lease reserves the attempt's worst case (one call, its tokens, its dollars) against the
batch budget, and takes one request (and its planned tokens) from every rate window the call's
model falls under. When the attempt ends its worker settles the lease: the hold is replaced
by what it spent, the unused rest returned. A lease never settled (its worker was lost with
the call in flight) keeps its hold for good: counted as spent, since the provider may have
billed it. Rate windows are sliding logs of the grants, WINDOW_S + LEASE_S long: a worker
sends an admitted request within LEASE_S of asking (or asks again), so however the grants
fall, a provider never sees more than rpm requests in any minute.

Pure and deterministic (the workflow replays it): time is given, never read.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from mas_cli.fleet.messages import Ask, Budget, Grant, Granted, Held, Ledger, Rate, Settle

WINDOW_S = 60.0  # what rpm and tpm mean
LEASE_S = 10.0  # an admitted attempt is sent within this, or its worker asks again


@dataclass
class Window:
    """One rate key's grants in the last WINDOW_S + LEASE_S seconds: (time, planned tokens)."""

    rate: Rate
    grants: deque[tuple[float, int]] = field(default_factory=deque)

    def wait(self, now: float, planned: int) -> float:
        """Seconds until one more request (of `planned` tokens) fits; 0 when it fits now."""
        span = WINDOW_S + LEASE_S
        while self.grants and self.grants[0][0] <= now - span:
            self.grants.popleft()
        waits = [0.0]
        rpm, tpm = self.rate.rpm, self.rate.tpm
        if rpm is not None and len(self.grants) >= rpm:
            waits.append(self.grants[len(self.grants) - rpm][0] + span - now)
        if tpm is not None and self.grants:
            over = sum(t for _, t in self.grants) + planned - tpm
            for at, tokens in self.grants:  # the oldest grants leave first
                if over <= 0:
                    break
                over -= tokens
                waits.append(at + span - now)
        return max(waits)


@dataclass
class Governor:
    """What every worker has spent and holds, against the batch's budget and rates."""

    budget: Budget
    rates: list[Rate]
    llm_calls: int = 0
    tokens: int = 0
    cost: Decimal = field(default_factory=Decimal)
    held: dict[str, tuple[int, Decimal]] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    hit: Grant | None = None
    """The first refusal: the batch starts no item after it."""

    def __post_init__(self) -> None:
        self.windows = {rate.key: Window(rate) for rate in self.rates}

    def lease(self, ask: Ask, now: float) -> Grant:
        """Admit one attempt, or say how long to wait, or refuse it (a limit)."""
        if ask.attempt < self.attempts.get(ask.item, 0):
            return Grant(ok=False, superseded=True)  # a worker presumed lost is still running
        cost = Decimal(ask.cost or 0)
        refused = self._over(ask.tokens, cost)
        if refused is not None:
            self.hit = self.hit or refused
            return refused
        windows = [self.windows[key] for key in ask.rates if key in self.windows]
        wait = max((w.wait(now, ask.planned) for w in windows), default=0.0)
        if wait > 0:
            return Grant(ok=False, wait_s=math.ceil(wait * 1000) / 1000)  # never 0: time moves
        self.held[ask.lease] = (ask.tokens, cost)
        for window in windows:
            window.grants.append((now, ask.planned))
        return Grant(ok=True)

    def settle(self, settle: Settle) -> None:
        """An attempt ended (or was not made): its hold becomes what it spent."""
        if self.held.pop(settle.lease, None) is None:
            return  # settled before: a checkpoint sent again
        if settle.made:
            self.llm_calls += 1
            self.tokens += settle.tokens
            self.cost += Decimal(settle.cost or 0)

    def attempt(self, item: str, attempt: int) -> None:
        """An item's attempt `attempt` began: earlier attempts of it lease nothing more."""
        self.attempts[item] = max(attempt, self.attempts.get(item, 0))

    @property
    def spent_calls(self) -> int:
        """Calls made, and calls held by leases never settled (counted as made)."""
        return self.llm_calls + len(self.held)

    @property
    def held_cost(self) -> Decimal:
        """Dollars held by leases in flight or never settled."""
        return sum((cost for _, cost in self.held.values()), Decimal(0))

    def ledger(self) -> Ledger:
        """All of this governor a later run of the workflow needs (see `resumed`)."""
        return Ledger(
            llm_calls=self.llm_calls,
            tokens=self.tokens,
            cost=str(self.cost),
            held=[Held(lease, tokens, str(cost)) for lease, (tokens, cost) in self.held.items()],
            attempts=dict(self.attempts),
            hit=self.hit,
            windows={
                key: [Granted(at, planned) for at, planned in window.grants]
                for key, window in self.windows.items()
            },
        )

    @classmethod
    def resumed(cls, budget: Budget, rates: list[Rate], ledger: Ledger) -> Governor:
        """The governor a `ledger` was taken of (its windows those of `rates` still)."""
        governor = cls(
            budget,
            rates,
            llm_calls=ledger.llm_calls,
            tokens=ledger.tokens,
            cost=Decimal(ledger.cost),
            held={h.lease: (h.tokens, Decimal(h.cost)) for h in ledger.held},
            attempts=dict(ledger.attempts),
            hit=ledger.hit,
        )
        for key, grants in ledger.windows.items():
            if key in governor.windows:
                governor.windows[key].grants.extend((g.at, g.planned) for g in grants)
        return governor

    def _over(self, tokens: int, cost: Decimal) -> Grant | None:
        held_tokens = sum(t for t, _ in self.held.values())
        checks = [
            ("max_llm_calls", Decimal(self.spent_calls + 1), self.budget.max_llm_calls),
            ("max_tokens", Decimal(self.tokens + held_tokens + tokens), self.budget.max_tokens),
            ("max_cost_usd", self.cost + self.held_cost + cost, self.budget.max_cost_usd),
        ]
        for kind, value, threshold in checks:
            if threshold is not None and value > Decimal(str(threshold)):
                return Grant(ok=False, kind=kind, value=float(value), threshold=threshold)
        return None
