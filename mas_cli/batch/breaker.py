"""The batch-wide breaker: items that keep failing the same way stop the batch.

An expired key (HTTP 401), a revoked one (403), an exhausted quota (402, or a 429 that says
quota): every item after the first few would fail the same way, at a cost in time and
sometimes money. The breaker compares how each failed item failed (its signature: the HTTP
status of its failed model call, else its reason with names and numbers taken out) and trips
when `threshold` items in a row fail with the same signature; an item that ends well resets it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from mas_cli.events.models import Event, LlmCall

_NUMBERS = re.compile(r"\d+(\.\d+)?")
_TASK = re.compile(r"^task \S+ failed: ")


@dataclass
class Probe:
    """Listens to one item's run: how its model calls failed, and what the run spent."""

    http_status: int | None = None
    error: str | None = None
    cost_usd: Decimal = Decimal(0)

    def __call__(self, event: Event) -> None:
        if not isinstance(event, LlmCall):
            return
        self.cost_usd += Decimal(str(event.cost_usd or 0))
        if event.status == "error" and self.error is None:
            self.http_status = event.http_status
            self.error = event.error


def signature(probe: Probe, reason: str | None) -> str:
    """How an item failed, with what differs between items (names, numbers, ids) taken out."""
    if probe.http_status is not None:
        quota = " (quota)" if "quota" in (probe.error or "").lower() else ""
        return f"HTTP {probe.http_status}{quota}"
    text = _TASK.sub("", reason or "unknown")
    return _NUMBERS.sub("#", text)[:200]


@dataclass
class Breaker:
    """Counts items in a row that failed the same way; trips at `threshold` (0: never)."""

    threshold: int = 5
    last: str | None = None
    streak: int = 0
    tripped: str | None = None
    """Why the batch stopped, as the user reads it."""

    def ok(self) -> None:
        """An item ended well: the streak is broken."""
        self.last, self.streak = None, 0

    def failed(self, how: str, reason: str | None, batch_id: str) -> None:
        """An item failed `how` (a signature); trip when the streak reaches the threshold."""
        self.streak = self.streak + 1 if how == self.last else 1
        self.last = how
        if self.threshold and self.streak >= self.threshold and self.tripped is None:
            self.tripped = (
                f"batch stopped by its breaker: {self.streak} items in a row failed the same way "
                f"({how}): {reason or 'no reason given'}. Fix the cause (an expired key? an "
                f"exhausted quota?), then finish the batch with: mas resume {batch_id}"
            )
