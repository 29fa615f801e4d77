"""One spend tally (events/spend.py): the run's totals, `mas runs`, the progress line and the
cost report count the same calls, tokens and dollars from the same log; the triage, which
keeps float running sums per agent for speed, is held to the same figures."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import pytest
from cost_logs import priced_run

from mas_cli.cli.render.run import Progress
from mas_cli.cost.report import cost_report
from mas_cli.events import models as ev
from mas_cli.events.reader import LogReader
from mas_cli.events.runs import run_row
from mas_cli.events.spend import Spend
from mas_cli.triage.scan import ScanOptions, scan

PRICED = Decimal("0.05046")  # the hand-priced fixture's calls (cost_logs.priced_run)


def _spent(path: Path) -> Spend:
    spend = Spend()
    for event in LogReader(path):
        spend(event)
    return spend


def test_every_reader_counts_the_same_spend(tmp_path: Path) -> None:
    path = priced_run(tmp_path).finish()
    spend = _spent(path)
    assert (spend.llm_calls, spend.tokens, spend.cost) == (4, 49_600, PRICED)
    row = run_row(path)
    assert (row.llm_calls, row.tokens, row.cost_usd) == (4, 49_600, float(PRICED))
    total = cost_report([path]).total
    assert (total.llm_calls, total.tokens, total.cost) == (4, 49_600, PRICED)
    assert (total.cache_read_tokens, total.cache_write_tokens) == (34_000, 5_000)
    assert (spend.cache_read_tokens, spend.cache_write_tokens) == (34_000, 5_000)


def test_runs_sums_dollars_exactly_not_as_floats(tmp_path: Path) -> None:
    """Summed as floats, the fixture's four costs make 0.050460000000000005."""
    path = priced_run(tmp_path).finish()
    assert float(PRICED) != 0.0015 + 0.0 + 0.00021 + 0.04875
    assert run_row(path).cost_usd == float(PRICED)


def test_one_unpriced_call_makes_every_total_unknown(tmp_path: Path) -> None:
    path = priced_run(tmp_path, unknown=True).finish()
    spend = _spent(path)
    assert (spend.cost, spend.known_cost, spend.unpriced_calls) == (None, PRICED, 1)
    assert run_row(path).cost_usd is None
    assert cost_report([path]).total.cost is None
    progress = Progress()
    for event in LogReader(path):
        progress(event)  # the live progress line's listener
    assert (progress.spend.llm_calls, progress.spend.cost) == (5, None)


def test_a_cost_that_is_not_a_number_is_unknown() -> None:
    call = ev.LlmCall(ts="t", run_id="r", trace_id="t", span_id="s", provider="p", model="m")
    spend = Spend()
    assert spend.add(call.model_copy(update={"cost_usd": math.nan})) is None
    assert spend.add(call.model_copy(update={"cost_usd": 0.25})) == Decimal("0.25")
    assert (spend.llm_calls, spend.unpriced_calls, spend.known_cost, spend.cost) == (
        2,
        1,
        Decimal("0.25"),
        None,
    )


@pytest.mark.parametrize("unknown", [False, True])
def test_the_triage_counts_what_the_tally_counts(tmp_path: Path, unknown: bool) -> None:
    """Its rows add up to the tally's calls and tokens, and its dollars (which count the priced
    calls, so with an unpriced call they are the tally's lower bound) to the tally's."""
    path = priced_run(tmp_path, unknown=unknown).finish()
    spend = _spent(path)
    rows = scan([str(path)], ScanOptions()).agents
    assert sum(r.calls for r in rows) == spend.llm_calls == (5 if unknown else 4)
    assert sum(r.tokens for r in rows) == spend.tokens
    assert round(sum(r.cost for r in rows if r.priced), 12) == float(spend.known_cost)
