"""The numbers of the loops table and of the per-minute counts, defined once.

`Sums` is one agent's work on one task in one trace as both passes count it (the record pass in
`tally.py`, the fast pass in `bulk.py`); `flush_minute` and `add_rate` hand its calls to the
per-minute counts, and `report.add_threads` its numbers to the rows. `Signals` is what the fast
pass notes about a trace in flight for the detectors' screens.
"""

from __future__ import annotations

from msgspec import Struct, field

MinuteKey = tuple[str, str, str]
"""(crew, agent, minute): an agent's identity includes its crew."""


class Sums(Struct):
    """What the table and the per-minute counts are made of: one agent's numbers on one task in
    one trace. Both passes count into these (the record pass in `Tally`, the fast pass in
    `bulk.py`), and both hand them on with `report.add_threads` and `flush_minute`."""

    agent: str = ""
    crew: str = ""
    calls: int = 0
    tool_calls: int = 0
    starts: int = 0
    max_turn: int = 0
    tokens: int = 0
    uncounted: int = 0
    """Model calls whose token counts the log did not give (never in our own log)."""
    partial: bool = False
    """Its log may leave model calls out (not our own): no call is no count, not zero."""
    cost: float = 0.0
    priced: bool = False
    inputs: list[int] = field(default_factory=list)
    """Input tokens of each model call (a list: made for every thread, faster than an array)."""
    minute: str = ""
    minute_calls: int = 0
    minute_first: int = 0
    minute_last: int = 0

    @property
    def turns(self) -> int:
        """Turns taken: the highest turn number logged, else the model calls (or agent steps)."""
        return self.max_turn or self.calls or self.starts


def flush_minute(per_minute: dict[MinuteKey, Rate], sums: Sums) -> None:
    """Add a thread's calls in its current minute to the per-minute counts."""
    if sums.minute_calls and sums.minute:
        key = (sums.crew, sums.agent, sums.minute)
        add_rate(per_minute, key, sums.minute_calls, sums.minute_first, sums.minute_last)
    sums.minute_calls = 0


class Signals(Struct):
    """A trace in flight as the fast pass sees it: its threads' sums, and a few facts noted on
    the way. Each detector's `screen` reads these to tell whether it could fire on the trace;
    a trace no screen picks is never folded into the tally (see `bulk.py`)."""

    threads: dict[tuple[str, str], Sums] = field(default_factory=dict)
    starts: int = 0
    """Agent starts (task_started lines)."""
    handoffs: int = 0
    limits: int = 0
    failed: bool = False
    """A model or tool call did not end ok."""
    repeated_output: bool = False
    """A model output digest seen twice in the trace."""
    repeated_call: bool = False
    """A tool called twice with the same arguments in the trace."""
    passed_state: bool = False
    """A state key passed between agents as often as a ping-pong or a cycle needs."""
    ended: bool = False


class Rate(Struct):
    """One agent's invocations in one minute."""

    count: int = 0
    first: int = 0
    last: int = 0


def add_rate(
    rates: dict[MinuteKey, Rate], key: MinuteKey, count: int, first: int, last: int
) -> None:
    """Add `count` invocations, the first and last at these locs, to one agent's minute."""
    mine = rates.get(key)
    if mine is None:
        rates[key] = Rate(count, first, last)
        return
    mine.count += count
    if first < mine.first:  # noqa: PLR1730 (a min() call costs more; this runs per thread)
        mine.first = first
    if last > mine.last:  # noqa: PLR1730
        mine.last = last
