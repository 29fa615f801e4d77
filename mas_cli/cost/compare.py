"""Two reports side by side (`--compare`), and the CI gates (`--fail-over`, `--max-increase`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from msgspec import Struct

from mas_cli.cost.report import By, CostReport
from mas_cli.cost.tally import Tally

HUNDRED = Decimal(100)


def change(before: Decimal | int | None, after: Decimal | int | None) -> Decimal | None:
    """after - before, or None when either is unknown."""
    if before is None or after is None:
        return None
    return Decimal(after) - Decimal(before)


def percent(before: Decimal | int | None, after: Decimal | int | None) -> Decimal | None:
    """The change as a percentage of `before`; None when unknown or `before` is zero."""
    delta = change(before, after)
    if delta is None or before is None or before == 0:
        return None
    return delta / Decimal(before) * HUNDRED


class Side(Struct, frozen=True):
    """One row of a comparison: the baseline's tally and this run's (either may be absent)."""

    key: str
    before: Tally
    after: Tally

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with the deltas."""
        return {
            "key": self.key,
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "cost_change_usd": _plain(change(self.before.cost, self.after.cost)),
            "cost_change_pct": _plain(percent(self.before.cost, self.after.cost)),
            "tokens_change": change(self.before.tokens, self.after.tokens),
            "llm_calls_change": change(self.before.llm_calls, self.after.llm_calls),
        }


class Comparison(Struct, frozen=True):
    """The rows of two reports, matched by key, and their totals."""

    by: By
    before: list[str]
    after: list[str]
    rows: list[Side]
    total: Side

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "by": self.by,
            "before_runs": self.before,
            "after_runs": self.after,
            "rows": [r.to_json() for r in self.rows],
            "total": self.total.to_json(),
        }


def compare(after: CostReport, before: CostReport) -> Comparison:
    """`after` (the runs named first) against `before` (the --compare run), row by row."""
    keys = list(dict.fromkeys([*before.rows, *after.rows]))
    rows = [Side(k, before.rows.get(k, Tally()), after.rows.get(k, Tally())) for k in keys]
    return Comparison(
        after.by,
        [r.run_id for r in before.runs],
        [r.run_id for r in after.runs],
        rows,
        Side("total", before.total, after.total),
    )


class Gate(Struct, frozen=True):
    """A CI gate's verdict and the sentence that explains it."""

    name: str
    passed: bool
    message: str


def fail_over(total: Tally, limit: Decimal) -> Gate:
    """--fail-over USD: the cost must be known and at most `limit`."""
    cost = total.cost
    if cost is None:
        known = f"at least {exact_usd(total.known_cost)}"
        return Gate("fail-over", False, f"cost unknown ({known}): cannot check --fail-over")
    verdict = "is over" if cost > limit else "is within"
    message = f"cost {exact_usd(cost)} {verdict} --fail-over {exact_usd(limit)}"
    return Gate("fail-over", cost <= limit, message)


def max_increase(total: Tally, baseline: Tally, limit_pct: Decimal, baseline_id: str) -> Gate:
    """--baseline RUN --max-increase PCT: the cost may grow at most PCT percent over RUN's."""
    before, after = baseline.cost, total.cost
    if before is None or after is None:
        return Gate("max-increase", False, "cost unknown: cannot check --max-increase")
    pct = percent(before, after)
    if pct is None:  # a free baseline: any spend is an unbounded increase
        ok = after <= 0
        shown = "no increase" if ok else "an increase from $0"
    else:
        ok, shown = pct <= limit_pct, f"{pct:+.1f}%"
    verdict = "within" if ok else "over"
    return Gate(
        "max-increase",
        ok,
        f"cost {exact_usd(after)} vs {exact_usd(before)} in baseline {baseline_id}: {shown}, "
        f"{verdict} --max-increase {limit_pct}%",
    )


def exact_usd(value: Decimal) -> str:
    """$0.40, $0.05046, $1.004: every digit there is, and at least the cents."""
    exponent = value.as_tuple().exponent
    short = isinstance(exponent, int) and exponent > -2
    return f"${value:.2f}" if short else f"${value:f}"  # format, not quantize: no precision cap


def _plain(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
