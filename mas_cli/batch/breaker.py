"""The batch-wide breaker: items that keep failing the same way stop the batch.

An expired key (HTTP 401), a revoked one (403), an exhausted quota (402, or a 429 that says
quota): every item after the first few would fail the same way, at a cost in time and
sometimes money. The breaker compares how each failed item failed (its signature: the HTTP
status of its failed model call, else its reason with names and numbers taken out) and trips
when `threshold` items in a row fail with the same signature. An item that ends well resets
it, unless it started before the streak's first failure: items start in the order of the items
file, and one from an earlier line was already running (its calls perhaps answered) before the
cause appeared, so its success says nothing of it. Counted that way, items in flight that end
well after a key expired do not hold the breaker off.
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
    since: int = 0
    """The items-file line of the item whose failure began the streak."""

    def ok(self, line: int) -> None:
        """The item of this line ended well: the streak is broken, unless the item started
        before the streak's first failure."""
        if self.streak and line < self.since:
            return
        self.last, self.streak = None, 0

    def failed(self, how: str, reason: str | None, batch_id: str, line: int) -> None:
        """The item of this line failed `how` (a signature); trip when the streak reaches the
        threshold."""
        if how == self.last:
            self.streak += 1
        else:
            self.streak, self.since = 1, line
        self.last = how
        if self.threshold and self.streak >= self.threshold and self.tripped is None:
            self.tripped = (
                f"batch stopped by its breaker: {self.streak} items in a row failed the same way "
                f"({how}): {reason or 'no reason given'}. Fix the cause (an expired key? an "
                f"exhausted quota?), then finish the batch with: mas resume {batch_id}"
            )
