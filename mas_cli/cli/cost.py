"""`mas cost-report`: the Typer signature; cli/actions/cost.py does the work."""

from __future__ import annotations

from typing import Annotated

import typer

from mas_cli.cli.actions import cost as actions
from mas_cli.cli.actions.cost import FORMATS, ByChoice
from mas_cli.cli.batch import BatchOption, LastBatchOption
from mas_cli.cli.options import HomeOption, format_option

__all__ = ["FORMATS", "ByChoice", "cost_report"]


def cost_report(
    runs: Annotated[
        list[str] | None,
        typer.Argument(help="Run ids (or prefixes) or events.jsonl paths; the last run if none."),
    ] = None,
    last: Annotated[bool, typer.Option("--last", help="The most recent run.")] = False,
    home: HomeOption = None,
    by: Annotated[ByChoice, typer.Option("--by", help="Break the cost down by.")] = ByChoice.agent,
    compare: Annotated[
        str | None, typer.Option("--compare", help="Another run: the same rows side by side.")
    ] = None,
    all_runs: Annotated[
        bool, typer.Option("--all", help="Every run under the home: spend per crew per day.")
    ] = False,
    crew: Annotated[str | None, typer.Option("--crew", help="Across runs: only this crew.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Across runs: since 7d, 12h, 2w or a date.")
    ] = None,
    fmt: Annotated[str, format_option(FORMATS)] = "table",
    json_out: Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")] = False,
    fail_over: Annotated[
        str | None, typer.Option("--fail-over", help="CI gate: exit 1 if the cost is over USD.")
    ] = None,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="CI gate: the run to compare against.")
    ] = None,
    max_increase: Annotated[
        str | None,
        typer.Option("--max-increase", help="CI gate: exit 1 if the cost grew more than PCT %."),
    ] = None,
    batch: BatchOption = None,
    last_batch: LastBatchOption = False,
) -> None:
    """What runs cost: totals, a breakdown, the self-check, and CI gates.

    With --batch (or --last-batch): every item's run of the batch, then its costliest items.

    Exit 0 ok, 1 a CI gate tripped, 2 bad arguments or an unreadable log.
    """
    code = actions.cost_report(
        runs=runs, last=last, home=home, by=by, compare=compare, all_runs=all_runs, crew=crew,
        since=since, fmt=fmt, json_out=json_out, fail_over=fail_over, baseline=baseline,
        max_increase=max_increase, batch=batch, last_batch=last_batch,
    )  # fmt: skip
    raise typer.Exit(code)
