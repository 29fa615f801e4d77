"""`mas cost-report`: what runs cost, by agent, task, model or tool; across runs; CI gates."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from mas_cli.cli.actions.batches import batch_logs, chosen_batch, missing_runs
from mas_cli.cli.exits import EXIT_GATE, EXIT_OK, output_format
from mas_cli.words import plural

if TYPE_CHECKING:
    from mas_cli.cost.compare import Comparison, Gate
    from mas_cli.cost.report import CostReport
    from mas_cli.cost.tally import Tally


FORMATS = ("table", "json", "csv", "md")


class ByChoice(StrEnum):
    """Breakdowns."""

    agent = "agent"
    task = "task"
    model = "model"
    tool = "tool"


def cost_report(
    *,
    runs: list[str] | None,
    last: bool,
    home: Path | None,
    by: ByChoice,
    compare: str | None,
    all_runs: bool,
    crew: str | None,
    since: str | None,
    fmt: str,
    json_out: bool,
    fail_over: str | None,
    baseline: str | None,
    max_increase: str | None,
    batch: str | None,
    last_batch: bool,
) -> int:
    """The report (or the spend across runs), then the gates; exit 1 when a gate tripped."""
    from mas_cli.cli.render import cost as draw

    output = output_format(fmt, json_out, FORMATS)
    gates_given = _gate_args(fail_over, baseline, max_increase)
    crews: set[str] = set()
    view = chosen_batch(home, batch, last_batch)
    gone: list[str] = []
    if view is not None:
        runs = [str(path) for path in batch_logs(home, view)]
        gone = missing_runs(home, view)
    if all_runs or crew or since:
        total = _across(home, crew, since, output, refused=runs or compare or last)
    else:
        report = _report(home, runs or [], last, by.value)
        crews = {r.crew for r in report.runs}
        if compare:
            draw.comparison(_compare(report, home, compare), output)
        else:
            draw.report(report, output)
        if view is not None and output == "table":
            from mas_cli.cli.render.batch import overview

            overview(view)
        total = report.total
    if view is not None and gone:
        _say_runs_gone(len(view.runs), gone)
    gates = _gates(total, home, gates_given, crews, gone)
    draw.gates(gates)
    return EXIT_GATE if any(not g.passed for g in gates) else EXIT_OK


def _report(home: Path | None, refs: list[str], last: bool, by: str) -> CostReport:
    from mas_cli.cost.report import BY_CHOICES, cost_report
    from mas_cli.events.store import home_dir, resolve_log

    base = home_dir(home)
    paths = [resolve_log(base, ref, last=False) for ref in refs] or [resolve_log(base, None, last)]
    return cost_report(paths, next(b for b in BY_CHOICES if b == by))


def _compare(report: CostReport, home: Path | None, other: str) -> Comparison:
    from mas_cli.cost.compare import compare

    against = _report(home, [other], False, report.by)
    _say_if_crews_differ({r.crew for r in report.runs}, against, "--compare")
    return compare(report, against)


def _say_if_crews_differ(ours: set[str], other: CostReport, flag: str) -> None:
    """Costs of two crews are not the same work: say so, on stderr."""
    from mas_cli.cli.render.plain import eprint, escape

    theirs = {r.crew for r in other.runs}
    if ours and theirs and ours != theirs:
        mine, its = escape(", ".join(sorted(ours))), escape(", ".join(sorted(theirs)))
        eprint(
            f"[yellow]warning:[/] {flag} {escape(other.runs[0].run_id)} is a run of crew {its}, "
            f"not {mine}: the figures compare different work"
        )


def _say_runs_gone(runs: int, gone: list[str]) -> None:
    """A batch item's run that is gone (pruned) is left out of every total: say so, on stderr."""
    from mas_cli.cli.render.plain import eprint

    eprint(
        f"[yellow]warning:[/] {len(gone)} of {runs} runs of the batch are gone "
        f"({', '.join(gone[:3])}{', ...' if len(gone) > 3 else ''}): the totals leave them out"
    )


def _across(
    home: Path | None, crew: str | None, since: str | None, output: str, refused: object
) -> Tally:
    from mas_cli.cli.render import cost as draw
    from mas_cli.cost.history import parse_since, spend_history
    from mas_cli.errors import UsageError
    from mas_cli.events.store import EVENTS, home_dir, run_ids, runs_dir

    if refused:
        raise UsageError(
            "--all, --crew and --since report across runs; they take no run, --last or --compare",
            hint="mas cost-report --all, or mas cost-report RUN_ID",
        )
    base = home_dir(home)
    paths = [runs_dir(base) / run_id / EVENTS for run_id in run_ids(base)]
    history = spend_history(paths, crew, parse_since(since) if since else None)
    if crew and not history.runs:
        _known_crew(base, crew)
    draw.history(history, output, crew=crew, since=since)
    return history.total


def _known_crew(home: Path, crew: str) -> None:
    """A --crew that names no crew with runs here is a typo until shown otherwise (exit 2)."""
    from mas_cli.cli.actions.runs import unknown_crew
    from mas_cli.events.runs import RunFilter, select_runs

    crews = select_runs(home, RunFilter(crew, None, None), 1)[1]  # reads on: none match
    if crews and crew not in crews:
        unknown_crew(crew, crews)


def _gate_args(
    fail_over: str | None, baseline: str | None, max_increase: str | None
) -> tuple[Decimal | None, str | None, Decimal | None]:
    from mas_cli.errors import UsageError

    if (baseline is None) != (max_increase is None):
        raise UsageError(
            "--baseline and --max-increase go together",
            hint="e.g. --baseline RUN_ID --max-increase 10",
        )
    return _amount("--fail-over", fail_over), baseline, _amount("--max-increase", max_increase)


def _amount(option: str, text: str | None) -> Decimal | None:
    from mas_cli.errors import UsageError

    if text is None:
        return None
    try:
        value = Decimal(text.strip().lstrip("$").rstrip("%"))
    except InvalidOperation:
        raise UsageError(f"{option} {text!r} is not a number", hint=f"e.g. {option} 0.50") from None
    if not value.is_finite() or value < 0:
        raise UsageError(f"{option} must be a number of at least 0, got {text!r}")
    return value


def _gates(
    total: Tally,
    home: Path | None,
    given: tuple[Decimal | None, str | None, Decimal | None],
    crews: set[str],
    gone: list[str],
) -> list[Gate]:
    from mas_cli.cost.compare import Gate, exact_usd, fail_over, max_increase

    limit, baseline, pct = given
    if gone:  # a lower bound passes a gate the whole batch may fail
        are = "is" if len(gone) == 1 else "are"
        why = f"{plural(len(gone), 'run')} {are} gone, the cost is at least "
        why += exact_usd(total.known_cost)
        given_names = (("fail-over", limit), ("max-increase", pct))
        names = [name for name, value in given_names if value is not None]
        return [Gate(name, False, f"{why}: cannot check --{name}") for name in names]
    gates = [fail_over(total, limit)] if limit is not None else []
    if baseline is not None and pct is not None:
        base = _report(home, [baseline], False, "agent")
        _say_if_crews_differ(crews, base, "--baseline")
        gates.append(max_increase(total, base.total, pct, base.runs[0].run_id))
    return gates
