"""What a loop detector reports: a finding with its severity, place, evidence, spend and fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["warning", "error"]
RANK: dict[str, int] = {"warning": 1, "error": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    """One loop, repeat or stop, found in a log.

    `first` and `last` are locs (see `records.make_loc`) of the pattern's first and last
    occurrence; the report turns them into file:line. `tokens` and `cost` are what was spent
    inside the pattern (cost None when the log has no prices).
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
    tokens: int
    cost: float | None
    fix: str
    first_span: str = ""
    last_span: str = ""


def severity(value: float, threshold: float) -> Severity:
    """An error at twice the threshold or more, else a warning."""
    return "error" if value >= 2 * threshold else "warning"


def costliest_first(findings: list[Finding]) -> list[Finding]:
    """Most dollars first, then most tokens, then errors before warnings, then log order."""
    return sorted(findings, key=lambda f: (-(f.cost or 0.0), -f.tokens, -RANK[f.severity], f.first))


def short(text: str, width: int = 8) -> str:
    """A digest cut for display."""
    return text[:width] + "…" if len(text) > width else text
