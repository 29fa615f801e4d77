"""`mas cost-report`, `--compare`, spend across runs, CI gates, and the worst-case bound."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from mas_cli.cli.render.fit import print_line
from mas_cli.cli.render.plain import eprint, escape, json_out, usd
from mas_cli.cli.render.sheet import Cell, Column, Cost, Kind, Sheet, emit
from mas_cli.words import plural

if TYPE_CHECKING:
    from mas_cli.cost.budget import RunBound
    from mas_cli.cost.compare import Comparison, Gate, Side
    from mas_cli.cost.history import Day, History
    from mas_cli.cost.report import CostReport, RunInfo
    from mas_cli.cost.tally import Tally

HUNDRED = Decimal(100)
BAR_WIDTH = 30

_MODEL_COLUMNS: list[tuple[str, Kind]] = [
    ("calls", "int"),
    ("input", "int"),
    ("cached", "int"),
    ("cache write", "int"),
    ("output", "int"),
    ("cost", "usd"),
    ("share", "share"),
    ("retries", "int"),
    ("retry cost", "usd"),
    ("tasks", "int"),
    ("cost/task", "usd"),
    ("tool calls", "int"),
    ("cache hits", "int"),
    ("saved", "seconds"),
]
_TOOL_COLUMNS: list[tuple[str, Kind]] = [
    ("calls", "int"),
    ("cache hits", "int"),
    ("tool time", "seconds"),
    ("saved", "seconds"),
]


def cost_cell(tally: Tally) -> Cost:
    """The tally's cost: exact, or a lower bound when some call had no price."""
    return Cost(tally.known_cost, tally.unpriced_calls == 0)


def report(rep: CostReport, fmt: str, title: str | None = None) -> None:
    """One report: a row per group, the total, what the cache saved, and the flags."""
    if fmt == "json":
        json_out(rep.to_json())
        return
    columns = _TOOL_COLUMNS if rep.by == "tool" else _MODEL_COLUMNS
    sheet = Sheet(
        title or _title(rep.runs, rep.by),
        [Column(rep.by, "text"), *(Column(n, k) for n, k in columns)],
        [[key, *_cells(t, rep.total, rep.by)] for key, t in rep.rows.items()],
        ["total", *_cells(rep.total, rep.total, rep.by)],
        rep.flags(),
        _cache_lines(rep.total),
    )
    emit(sheet, fmt)


def _cells(t: Tally, total: Tally, by: str) -> list[Cell]:
    if by == "tool":
        return [t.tool_calls, t.cache_hits, t.tool_time_s, t.saved_s]
    share = t.known_cost / total.known_cost * HUNDRED if total.known_cost else None
    return [
        *(t.llm_calls, t.input_tokens, t.cache_read_tokens, t.cache_write_tokens),
        *(t.output_tokens, cost_cell(t), share, t.retries, t.retry_cost),
        *(len(t.tasks), t.cost_per_task, t.tool_calls, t.cache_hits, t.saved_s),
    ]


def _title(runs: list[RunInfo], by: str) -> str:
    if len(runs) != 1:
        crews = sorted({r.crew for r in runs})
        return f"{len(runs)} runs ({', '.join(crews)}) · by {by}"
    run = runs[0]
    took = f" · {run.duration_s:.2f}s" if run.duration_s is not None else ""
    from mas_cli.cost.report import check_word

    word = check_word(run)
    check = {"not finished": "no totals to check", "failed": "self-check FAILED"}.get(
        word, f"self-check {word}"
    )
    prices = f" · prices {run.price_data_version}" if run.price_data_version else ""
    chain = f" (resumes run {run.resumed_from})" if run.resumed_from else ""
    return f"{run.crew} · run {run.run_id}{chain} · {run.status}{took}{prices} · {check} · by {by}"


def _cache_lines(total: Tally) -> list[str]:
    if not total.tool_calls:
        return []
    line = (
        f"tool cache: {total.cache_hits} of {total.tool_calls} tool calls answered from the "
        f"cache, {total.saved_s:.2f}s of tool time saved"
    )
    if total.saved_tokens or total.saved_cost:
        line += f", {total.saved_tokens:,} tokens and {usd(total.saved_cost)} not spent"
    return [line]


def comparison(cmp: Comparison, fmt: str) -> None:
    """Two reports side by side with their changes."""
    if fmt == "json":
        json_out(cmp.to_json())
        return
    before, after = ", ".join(cmp.before), ", ".join(cmp.after)
    columns: list[tuple[str, Kind]] = [
        (cmp.by, "text"),
        (f"cost {_short(before)}", "usd"),
        (f"cost {_short(after)}", "usd"),
        ("change", "usd_change"),
        ("change %", "pct"),
        ("calls before", "int"),
        ("calls after", "int"),
        ("tokens before", "int"),
        ("tokens after", "int"),
        ("tokens %", "pct"),
    ]
    sheet = Sheet(
        f"{after} compared with {before} · by {cmp.by}",
        [Column(n, k) for n, k in columns],
        [_side_cells(side) for side in cmp.rows],
        _side_cells(cmp.total),
    )
    emit(sheet, fmt)


def _short(run_id: str) -> str:
    return run_id.rsplit("-", 1)[-1] if len(run_id) > 12 else run_id


def _side_cells(side: Side) -> list[Cell]:
    from mas_cli.cost.compare import change, percent

    b, a = side.before, side.after
    return [
        side.key,
        cost_cell(b),
        cost_cell(a),
        change(b.cost, a.cost),
        percent(b.cost, a.cost),
        *(b.llm_calls, a.llm_calls, b.tokens, a.tokens),
        percent(b.tokens, a.tokens),
    ]


def history(hist: History, fmt: str, *, crew: str | None, since: str | None) -> None:
    """Spend per crew per day, with a bar per row."""
    if fmt == "json":
        json_out(hist.to_json())
        return
    days = hist.sorted_days()
    top = max((d.total.known_cost for d in days), default=Decimal(0))
    rows = [_day_cells(d, top) for d in days]
    total: list[Cell] = ["total", "", hist.runs, hist.total.llm_calls, hist.total.tokens]
    names: list[tuple[str, Kind]] = [("day", "text"), ("crew", "text"), ("runs", "int")]
    names += [("calls", "int"), ("tokens", "int"), ("cost", "usd"), ("", "bar")]
    sheet = Sheet(
        _history_title(hist, crew, since),
        [Column(n, k) for n, k in names],
        rows,
        [*total, cost_cell(hist.total), ""],
        _history_notes(hist),
    )
    emit(sheet, fmt)


def _day_cells(day: Day, top: Decimal) -> list[Cell]:
    t = day.total
    return [
        day.day,
        day.crew,
        day.runs,
        t.llm_calls,
        t.tokens,
        cost_cell(t),
        _bar(t.known_cost, top),
    ]


def _bar(value: Decimal, top: Decimal) -> str:
    if not top or not value:
        return ""
    return "█" * max(1, round(value / top * BAR_WIDTH))


def _history_title(hist: History, crew: str | None, since: str | None) -> str:
    scope = f" of crew {crew}" if crew else ""
    window = f" since {since}" if since else ""
    return f"spend per crew per day · {plural(hist.runs, 'run')}{scope}{window}"


def _history_notes(hist: History) -> list[str]:
    notes = []
    if not hist.runs:
        notes.append("no runs match: try mas cost-report --all, or a wider --since")
    if hist.unfinished:
        notes.append(f"{plural(hist.unfinished, 'run')} never finished (killed, or still running)")
    if hist.replays:
        notes.append(
            f"{plural(hist.replays, 'replayed run')} not counted: a replay spends nothing new"
        )
    if hist.total.unpriced_calls:
        models = ", ".join(sorted(hist.total.unpriced_models))
        notes.append(f"{hist.total.unpriced_calls} model calls ({models}) have no price")
    return notes


def gates(results: list[Gate]) -> None:
    """Each CI gate's verdict on stderr."""
    for gate in results:
        mark = "[green]✓[/]" if gate.passed else "[red]✗ gate tripped:[/]"
        eprint(f"{mark} {gate.name}: {escape(gate.message)}")


def worst_case(bound: RunBound) -> None:
    """`mas validate`'s worst case for a whole run."""
    top = bound.dearest
    if bound.bound is None or top is None:
        models = ", ".join(bound.unknown)
        print_line(f"worst case  unknown: no price for {escape(models)} (add it under prices:)")
        return
    per_call = (
        f"{usd(top.per_call)} per call ({escape(top.agent)} on {escape(top.model)}: "
        f"{top.input_tokens:,} in + {top.output_tokens:,} out)"
    )
    cap = f"max_cost_usd {usd(bound.cap)}"
    verdict = f"{cap} stops the run first" if bound.cap < bound.bound else f"within {cap}"
    print_line(f"worst case  {bound.calls} calls × {per_call} = {usd(bound.bound)}; {verdict}")


def estimate(rep: CostReport, bound: RunBound) -> None:
    """`mas run --estimate`: the expected cost by agent, then the worst case."""
    run = rep.runs[0]
    report(
        rep, "table", f"{run.crew} · estimate: an offline dry run, no provider called · by agent"
    )
    cost = usd(rep.total.cost)
    print_line(
        f"expected cost {cost} for {rep.total.llm_calls} model calls "
        f"({rep.total.tokens:,} tokens, estimated) · prices {run.price_data_version}"
    )
    worst_case(bound)
