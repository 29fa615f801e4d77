"""Runs of repetition in a sequence, tracked one symbol at a time in constant memory.

Period 1 is the same symbol over and over (a monologue); period 2 is two symbols taking turns,
`a b a b ...` with `a != b` (ping-pong). Only the longest run is kept, with where it started and
ended and what was spent inside it. Spend is a (tokens, dollars) pair of running totals.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct

Spent = tuple[int, float]
NOTHING: Spent = (0, 0.0)


class BestRun(Struct, frozen=True):
    """The longest run seen: its length in steps, its symbols, where, and its spend."""

    length: int
    pattern: tuple[Any, ...]
    first: int
    last: int
    tokens: int
    cost: float
    first_ts: str = ""
    last_ts: str = ""


class RunTracker(Struct):
    """Feeds symbols; `best` is the longest run of the given period so far."""

    period: int
    prev: Any = None
    prev2: Any = None
    prev_loc: int = 0
    prev_ts: str = ""
    prev_spent: Spent = NOTHING
    length: int = 0
    start: int = 0
    start_ts: str = ""
    start_spent: Spent = NOTHING
    last: int = 0
    last_ts: str = ""
    end_spent: Spent = NOTHING
    best: BestRun | None = None
    best_length: int = 0

    def feed(self, symbol: Any, loc: int, before: Spent, after: Spent, ts: str = "") -> None:
        """One more symbol, with the running spend before and after its step, and its time."""
        length = self.length
        if length and (
            symbol == self.prev
            if self.period == 1
            else length >= 2 and symbol != self.prev and symbol == self.prev2
        ):
            self.length = length + 1
        else:
            if length > self.best_length:
                self.close()
            self._restart(symbol, loc, before, ts)
        self.prev2, self.prev = self.prev, symbol
        self.prev_loc, self.prev_spent, self.prev_ts = loc, before, ts
        self.last, self.end_spent, self.last_ts = loc, after, ts

    def _restart(self, symbol: Any, loc: int, spent: Spent, ts: str) -> None:
        if self.period == 2 and self.length >= 1 and symbol != self.prev:
            self.length = 2  # the previous symbol and this one open a new alternation
            self.start, self.start_spent = self.prev_loc, self.prev_spent
            self.start_ts = self.prev_ts
        else:
            self.length = 1
            self.start, self.start_spent, self.start_ts = loc, spent, ts

    def close(self) -> None:
        """Keep the current run if it is the longest; call once more when the sequence ends."""
        if self.length > self.best_length:
            pattern = (self.prev,) if self.period == 1 else (self.prev2, self.prev)
            tokens = self.end_spent[0] - self.start_spent[0]
            cost = self.end_spent[1] - self.start_spent[1]
            self.best = BestRun(
                self.length,
                pattern,
                self.start,
                self.last,
                tokens,
                cost,
                self.start_ts,
                self.last_ts,
            )
            self.best_length = self.length
