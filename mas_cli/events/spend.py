"""What model calls spent, summed in one place: calls, tokens, and exact dollars.

The engine's run totals (run_finished), `mas runs`, the live progress line and the cost report
all count `llm_call` events with `Spend`. Money is a Decimal: an event stores a cost as the
JSON number written from the Decimal (`as_float`); a float's repr is the shortest text that
reads back the same, and a call's cost has far fewer than 15 significant digits, so `money`
recovers the Decimal exactly and sums are exact. A call without a cost (a model with no price)
makes the sum unknown: `cost` is None, and `known_cost` a lower bound.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from msgspec import Struct

if TYPE_CHECKING:
    from mas_cli.events import logged, models

    LlmCall = models.LlmCall | logged.LlmCall


def as_float(cost: Decimal | None) -> float | None:
    """A cost for an event: the JSON number that reads back as the same Decimal."""
    return None if cost is None else float(cost)


def money(value: float | str | None) -> Decimal | None:
    """A cost read from an event, as the exact Decimal it was written from; a cost that is
    not a finite number (NaN, Infinity in a log) is unknown."""
    if value is None:
        return None
    cost = Decimal(str(value))
    return cost if cost.is_finite() else None


class Spend(Struct):
    """Sums over model call attempts (retries and failed attempts included)."""

    llm_calls: int = 0
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    known_cost: Decimal = Decimal(0)
    unpriced_calls: int = 0

    @property
    def cost(self) -> Decimal | None:
        """The exact cost, or None when some call had no price."""
        return None if self.unpriced_calls else self.known_cost

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def add(self, call: LlmCall) -> Decimal | None:
        """Count one model call attempt; its cost (None: no price). A call answered from a
        recording (`mas resume`, `replayed`) was not made and spent nothing: not counted."""
        if call.replayed:
            return Decimal(0)
        self.llm_calls += 1
        self.input_tokens += call.input_tokens
        self.cache_read_tokens += call.cache_read_tokens
        self.cache_write_tokens += call.cache_write_tokens
        self.output_tokens += call.output_tokens
        cost = money(call.cost_usd)
        if cost is None:
            self.unpriced_calls += 1
        else:
            self.known_cost += cost
        return cost

    def __call__(self, event: Any) -> None:
        """Count the event if it is a model call (a run's listener; an event of either kind,
        `models` or `logged`)."""
        if event.type == "llm_call":
            self.add(event)
