"""What a loop detector reports: a finding with its severity, place, evidence, spend and fix."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from operator import attrgetter
from typing import Literal

from msgspec import Struct, field

Severity = Literal["warning", "error"]
RANK: dict[str, int] = {"warning": 1, "error": 2}


class Finding(Struct, frozen=True):
    """One loop, repeat or stop, found in a log.

    `first` and `last` are locs (see `records.make_loc`) of the pattern's first and last
    occurrence; the report turns them into file:line. `tokens` and `cost` are what was spent
    inside the pattern (None when the log does not say: no token counts, no prices).
    """

    detector: str
    severity: Severity
    trace: str
    agent: str
    task: str
    message: str
    pattern: str
    first: int
    last: int
    tokens: int | None
    cost: float | None
    fix: str
    first_span: str = ""
    last_span: str = ""
    first_ts: str = ""
    """When the pattern first occurred, as the log wrote it ("" when it does not say)."""
    last_ts: str = ""
    crew: str = ""
    """The crew of the trace, when the log names it."""
    agents: tuple[str, ...] = ()
    """Every agent that made the calls, when more than one did (`agent` is the first)."""

    @property
    def blamed(self) -> tuple[str, ...]:
        """The agents the finding is about."""
        return self.agents or (self.agent,)


FIELDS = attrgetter(*Finding.__struct_fields__)
CREW = Finding.__struct_fields__.index("crew")


def with_crew(found: list[Finding], crew: str) -> list[Finding]:
    """These findings, made in a run of this crew (faster than `dataclasses.replace`)."""
    made = []
    for f in found:
        values = list(FIELDS(f))
        values[CREW] = crew
        made.append(Finding(*values))
    return made


def severity(value: float, threshold: float) -> Severity:
    """An error at twice the threshold or more, else a warning."""
    return "error" if value >= 2 * threshold else "warning"


def _cost_order(f: Finding) -> tuple[float, int, int, int]:
    return -(f.cost or 0.0), -(f.tokens or 0), -RANK[f.severity], f.first


def costliest_first(findings: list[Finding]) -> list[Finding]:
    """Most dollars first, then most tokens, then errors before warnings, then log order."""
    return sorted(findings, key=_cost_order)


class Findings(Struct):
    """Findings as they are found: every one, or only the `keep` costliest, and counts of all.

    With `keep`, memory stays flat however many findings a log holds (a log in which every run
    loops has about 100,000 a gigabyte); the counts, per agent and the worst severity, still
    cover them all.
    """

    keep: int | None = None
    kept: list[Finding] = field(default_factory=list)
    count: int = 0
    per_agent: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Findings per (crew, agent)."""
    worst: int = 0
    """The rank of the worst severity (0: no finding)."""

    def add(self, found: Iterable[Finding]) -> None:
        """Count these findings, and keep them (or the costliest, with `keep`)."""
        found = list(found)
        if not found:
            return
        self.count += len(found)
        self.per_agent.update((f.crew, agent) for f in found for agent in f.blamed)
        self.worst = max(self.worst, *(RANK[f.severity] for f in found))
        self._keep(found)

    def absorb(self, other: Findings) -> None:
        """Add another part's findings, already counted there."""
        self.count += other.count
        self.per_agent.update(other.per_agent)
        self.worst = max(self.worst, other.worst)
        self._keep(other.kept)

    def _keep(self, found: list[Finding]) -> None:
        self.kept += found
        if self.keep is not None and len(self.kept) > 2 * self.keep + 100:  # trimmed now and then
            self.kept = heapq.nsmallest(self.keep, self.kept, key=_cost_order)

    def ranked(self) -> list[Finding]:
        """The kept findings, most costly first."""
        ranked = costliest_first(self.kept)
        return ranked if self.keep is None else ranked[: self.keep]


def short(text: str, width: int = 8) -> str:
    """A digest cut for display."""
    return text[:width] + "…" if len(text) > width else text
