"""Runs of repetition in a sequence, tracked one symbol at a time in constant memory.

Period 1 is the same symbol over and over (a monologue); period 2 is two symbols taking turns,
`a b a b ...` with `a != b` (ping-pong). Only the longest run is kept, with where it started and
ended and what was spent inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BestRun:
    """The longest run seen: its length in steps, its symbols, where, and its spend."""

    length: int
    pattern: tuple[Any, ...]
    first: int
    last: int
    tokens: int
    cost: float


@dataclass(slots=True)
class RunTracker:
    """Feeds symbols; `best` is the longest run of the given period so far."""

    period: int
    prev: Any = None
    prev2: Any = None
    prev_loc: int = 0
    prev_tokens: int = 0
    prev_cost: float = 0.0
    length: int = 0
    start: int = 0
    start_tokens: int = 0
    start_cost: float = 0.0
    last: int = 0
    end_tokens: int = 0
    end_cost: float = 0.0
    best: BestRun | None = None

    def feed(
        self,
        symbol: Any,
        loc: int,
        tokens_before: int,
        cost_before: float,
        tokens_after: int,
        cost_after: float,
    ) -> None:
        """One more symbol, with the running spend before and after its step."""
        if self._extends(symbol):
            self.length += 1
        else:
            self.close()
            self._restart(symbol, loc, tokens_before, cost_before)
        self.prev2, self.prev = self.prev, symbol
        self.prev_loc, self.prev_tokens, self.prev_cost = loc, tokens_before, cost_before
        self.last, self.end_tokens, self.end_cost = loc, tokens_after, cost_after

    def _extends(self, symbol: Any) -> bool:
        if self.length == 0:
            return False
        if self.period == 1:
            return bool(symbol == self.prev)
        return self.length >= 2 and symbol != self.prev and symbol == self.prev2

    def _restart(self, symbol: Any, loc: int, tokens: int, cost: float) -> None:
        if self.period == 2 and self.length >= 1 and symbol != self.prev:
            self.length = 2  # the previous symbol and this one open a new alternation
            self.start, self.start_tokens, self.start_cost = (
                self.prev_loc,
                self.prev_tokens,
                self.prev_cost,
            )
        else:
            self.length = 1
            self.start, self.start_tokens, self.start_cost = loc, tokens, cost

    def close(self) -> None:
        """Compare the current run with the best; call once more when the sequence ends."""
        if self.length and (self.best is None or self.length > self.best.length):
            pattern = (self.prev,) if self.period == 1 else (self.prev2, self.prev)
            self.best = BestRun(
                self.length,
                pattern,
                self.start,
                self.last,
                self.end_tokens - self.start_tokens,
                self.end_cost - self.start_cost,
            )
