"""`mas triage loops` and `mas triage state` as tables, Markdown or JSON."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from mas_cli.cli.render.fit import print_line, print_table
from mas_cli.cli.render.grid import Grid
from mas_cli.cli.render.plain import eprint, escape, json_out
from mas_cli.events.formats.records import is_position
from mas_cli.words import plural

if TYPE_CHECKING:
    from mas_cli.triage.findings import Finding
    from mas_cli.triage.report import AgentRow, Input, LoopReport
    from mas_cli.triage.state import StateReport

SHOWN = 30  # findings a table or Markdown report shows; --json has them all
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow"}
AGENT_COLUMNS = (
    "agent",
    "calls",
    "tool calls",
    "turns max",
    "turns mean",
    "tokens",
    "cost",
    "findings",
)


def loops_report(report: LoopReport, fmt: str) -> None:
    """The per-agent table, then the findings, most costly first."""
    if fmt == "json":
        json_out(loops_json(report))
    elif fmt == "md":
        from mas_cli.cli.render.base import stdout

        stdout.out(loops_markdown(report), highlight=False)
    else:
        _loops_table(report)
    bad_lines(report)


def _money(cost: float | None) -> str:
    return "-" if cost is None else f"${cost:.4f}"


def _tokens(tokens: int | None) -> str:
    """Tokens, or "-" when the log does not say (as for a cost without a price)."""
    return "-" if tokens is None else f"{tokens:,}"


def _agent_cells(row: AgentRow, crews: bool = False) -> list[str]:
    name = row.agent or "?"
    return [
        f"{row.crew or '?'}/{name}" if crews else name,
        str(row.calls),
        str(row.tool_calls),
        str(row.turns_max),
        f"{row.turns_mean:.1f}",
        _tokens(row.tokens if row.counted else None),
        _money(row.cost if row.priced else None),
        str(row.findings),
    ]


def _summary(report: LoopReport) -> str:
    formats = sorted({fmt for _, fmt in report.sources})
    files = f"{len(report.sources)} file{'s' if len(report.sources) != 1 else ''}"
    found = f"{report.found:,} finding{'s' if report.found != 1 else ''}"
    counts = f"{plural(report.records, 'record')} · {plural(report.traces, 'trace')} · {found}"
    return f"{files} ({', '.join(formats)}) · {counts}"


GROUPED = 5  # more inputs than this: those read whole are counted per format, not listed


def read_as(i: Input) -> str:
    """`README.md: read as text · 2 records · 287 of 289 lines skipped`."""
    name = "standard input" if i.path == "-" else i.path
    return f"{name}: read as {i.fmt} · {plural(i.records, 'record')} · {skipped(i)}"


def skipped(i: Input) -> str:
    """What of an input was skipped: lines, or in a JSON document read a record at a time
    (which counts no lines), entries, and whether it stopped early with most of it unread."""
    if i.cut_short:
        return "reading stopped early, most of the document unread"
    if not i.skipped:
        return "no line skipped"
    if i.lines:
        return f"{i.skipped:,} of {i.lines:,} lines skipped"
    return f"{plural(i.skipped, 'entry', 'entries')} skipped"


def _inputs(report: LoopReport) -> list[str]:
    """What was read as what: each input, or past GROUPED inputs, those with skipped lines
    and a count per format of the others."""
    if len(report.inputs) <= GROUPED:
        return [read_as(i) for i in report.inputs]
    whole: dict[str, list[Input]] = {}
    for i in report.inputs:
        if not i.skipped and not i.unreadable:
            whole.setdefault(i.fmt, []).append(i)
    lines = [read_as(i) for i in report.inputs if i.skipped or i.unreadable]
    for fmt, group in sorted(whole.items()):
        records = sum(i.records for i in group)
        lines.append(f"{len(group):,} files read as {fmt} · {records:,} records · none skipped")
    return lines


def _verdict(report: LoopReport) -> str:
    bad = report.unreadable()
    if bad:
        return f"verdict: unreadable ({len(bad)} of {len(report.inputs)} inputs mostly skipped)"
    return "no loops found" if not report.found else ""


def _loops_table(report: LoopReport) -> None:
    print_line(f"[bold]mas triage loops[/] {escape(_summary(report))}")
    for line in _inputs(report):
        print_line(f"  {escape(line)}")
    table = Grid(header_style="bold")
    for name in AGENT_COLUMNS:
        table.add_column(name, justify="left" if name == "agent" else "right", no_wrap=True)
    crews = bool(report.crews)
    for row in report.agents:
        table.add_row(*(escape(c) for c in _agent_cells(row, crews)))
    print_table(table)
    if report.unreadable():
        print_line(f"[bold red]{escape(_verdict(report))}[/]")
    elif not report.findings:
        print_line("[green]no loops found[/]")
    for number, finding in enumerate(report.findings[:SHOWN], start=1):
        _finding(report, number, finding)
    if report.found > SHOWN:
        print_line(f"\n… and {report.found - SHOWN:,} more findings (--json lists them all)")


def _finding(report: LoopReport, number: int, f: Finding) -> None:
    style = SEVERITY_STYLE[f.severity]
    print_line(f"\n{number}. [{style}]{f.severity}[/] [bold]{f.detector}[/]: {escape(f.message)}")
    print_line(f"   where: {escape(_where(f, bool(report.crews)))}")
    if when := _when(f):
        print_line(f"   when: {escape(when)}")
    print_line(f"   evidence: {escape(f.pattern)} · {escape(_span(report, f))}")
    print_line(f"   spent inside: {spent(f)}")
    print_line(f"   fix: {escape(f.fix)}")


def spent(f: Finding) -> str:
    """`1,234 tokens · $0.0123`; what the log does not say is said so."""
    said = "tokens unknown" if f.tokens is None else f"{f.tokens:,} tokens"
    return f"{said} · {_money(f.cost)}"


def _where(f: Finding, crews: bool = False) -> str:
    named = [a for a in f.blamed if a]
    parts = [
        f"crew {f.crew or '?'}" if crews else "",
        f"agent{'s' if len(named) > 1 else ''} {', '.join(named)}" if named else "",
        f"task {f.task}" if f.task else "",
        f"trace {f.trace}" if f.trace else "",
    ]
    return " · ".join(p for p in parts if p) or "the whole log"


def _when(f: Finding) -> str:
    """When the pattern ran, as the log tells it: `2026-11-21 02:13:05 → 02:41:10 UTC (28 min)`.

    Times that do not parse as ISO 8601 are shown as they are; "" when the log has none.
    """
    first, last = _time(f.first_ts), _time(f.last_ts or f.first_ts)
    if first is None or last is None or (first.tzinfo is None) != (last.tzinfo is None):
        shown = dict.fromkeys(t for t in (f.first_ts, f.last_ts) if t)  # as written: one with
        return " → ".join(shown)  # a zone and one without have no distance
    if last < first:  # records read out of time order (a trace saved newest first)
        first, last = last, first
    zone = " UTC" if first.utcoffset() == timedelta(0) else ""
    start = first.strftime("%Y-%m-%d %H:%M:%S")
    if last == first:
        return start + zone
    end = last.strftime("%H:%M:%S" if last.date() == first.date() else "%Y-%m-%d %H:%M:%S")
    return f"{start} → {end}{zone} ({_duration(last - first)})"


def _time(ts: str) -> datetime | None:
    try:
        return datetime.fromisoformat(ts) if ts else None
    except ValueError:
        return None


def _duration(span: timedelta) -> str:
    seconds = max(0, int(span.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    minutes, hours = seconds // 60, seconds // 3600
    if hours < 2:
        return f"{minutes} min"
    if hours < 48:
        return f"{hours} h {minutes % 60} min"
    return f"{hours // 24} d {hours % 24} h"


def _span(report: LoopReport, f: Finding) -> str:
    first, _last = report.where(f.first), report.where(f.last)
    if is_position(f.first_span):  # a transcript: its record and message, not lines or spans
        file = first.rsplit(":", 1)[0]
        return (
            f"{file} {f.first_span} → {f.last_span}"
            if f.last != f.first or f.last_span != f.first_span
            else f"{file} {f.first_span}"
        )
    if report.in_records(f.first):  # a transcript document: records are counted, not lines
        file, at = first.rsplit(":", 1)[0], (report.line(f.first), report.line(f.last))
        return f"{file} record {at[0]}" if at[0] == at[1] else f"{file} records {at[0]} → {at[1]}"
    lines = f"line {first}" if f.first == f.last else f"lines {first} → {report.line(f.last)}"
    spans = f" (span {f.first_span} → {f.last_span})" if f.first_span else ""
    return lines + spans


def bad_lines(report: LoopReport) -> None:
    """How many lines were skipped, and the first few with their numbers (on stderr)."""
    if not report.bad.count:
        return
    eprint(
        f"[yellow]skipped {report.bad.count:,} unreadable "
        f"line{'s' if report.bad.count != 1 else ''}[/]"
    )
    for bad in report.bad.first:
        where = f"{bad.source}:{bad.line}" if bad.line else bad.source
        eprint(f"  {escape(where)}: {escape(bad.reason)}")


def loops_json(report: LoopReport) -> dict[str, Any]:
    """The whole report as plain JSON."""
    return {
        "verdict": report.verdict(),
        "sources": [_input_json(i) for i in report.inputs],
        "records": report.records,
        "traces": report.traces,
        "agents": [_agent_json(row) for row in report.agents],
        "findings": [_finding_json(report, f) for f in report.findings],
        "skipped_lines": {
            "count": report.bad.count,
            "first": [
                {"file": b.source, "line": b.line, "reason": b.reason} for b in report.bad.first
            ],
        },
    }


def _input_json(i: Input) -> dict[str, Any]:
    return {
        "path": i.path,
        "format": i.fmt,
        "records": i.records,
        "lines": i.lines,
        "skipped_lines": i.skipped,
        "unreadable": i.unreadable,
    }


def _agent_json(row: AgentRow) -> dict[str, Any]:
    return {
        "agent": row.agent,
        "crew": row.crew or None,
        "calls": row.calls,
        "tool_calls": row.tool_calls,
        "tasks": row.threads,
        "turns_max": row.turns_max,
        "turns_mean": round(row.turns_mean, 2),
        "tokens": row.tokens if row.counted else None,
        "cost_usd": round(row.cost, 6) if row.priced else None,
        "findings": row.findings,
    }


def _finding_json(report: LoopReport, f: Finding) -> dict[str, Any]:
    def at(loc: int, span: str, ts: str) -> dict[str, Any]:
        return {
            "file": report.where(loc).rsplit(":", 1)[0],
            "line": report.line(loc),
            "span": span or None,
            "ts": ts or None,
        }

    return {
        "detector": f.detector,
        "severity": f.severity,
        "message": f.message,
        "where": {
            "crew": f.crew or None,
            "agent": f.agent or None,
            "agents": list(f.blamed) if f.agents else None,
            "task": f.task or None,
            "trace": f.trace or None,
        },
        "evidence": {
            "pattern": f.pattern,
            "first": at(f.first, f.first_span, f.first_ts),
            "last": at(f.last, f.last_span, f.last_ts),
        },
        "tokens": f.tokens,
        "cost_usd": round(f.cost, 6) if f.cost is not None else None,
        "fix": f.fix,
    }


def loops_markdown(report: LoopReport) -> str:
    """The report as Markdown, for a CI summary or an incident ticket."""
    lines = ["## mas triage loops", "", _summary(report), ""]
    lines += [f"- {line}" for line in _inputs(report)] + [""]
    if report.unreadable():
        lines += [f"**{_verdict(report)}**", ""]
    lines += ["| " + " | ".join(AGENT_COLUMNS) + " |", "|" + "---|" * len(AGENT_COLUMNS)]
    crews = bool(report.crews)
    lines += [
        "| " + " | ".join(c.replace("|", "\\|") for c in _agent_cells(row, crews)) + " |"
        for row in report.agents
    ]
    lines += (
        ["", "### Findings", ""]
        if report.findings
        else []
        if report.unreadable()
        else ["", "No loops found."]
    )
    if report.found > SHOWN:
        lines.append(
            f"The {SHOWN} most costly of {report.found:,} findings (--json lists them all)."
        )
    for number, f in enumerate(report.findings[:SHOWN], start=1):
        lines += [
            f"{number}. **{f.severity}** `{f.detector}`: {f.message}",
            f"   - where: {_where(f, crews)}",
            *([f"   - when: {when}"] if (when := _when(f)) else []),
            f"   - evidence: `{f.pattern}` · {_span(report, f)}",
            f"   - spent inside: {spent(f)}",
            f"   - fix: {f.fix}",
        ]
    return "\n".join(lines) + "\n"


def state_report(report: StateReport, fmt: str) -> None:
    """Every problem with the state, or a line saying it is clean."""
    if fmt == "json":
        json_out(
            {
                "state": report.source,
                "schema": report.schema,
                "log": report.log,
                "keys": report.keys,
                "problems": [vars(p) for p in report.problems],
            }
        )
        return
    log = f" · log {report.log}" if report.log else ""
    keys = f"{report.keys} key{'s' if report.keys != 1 else ''}"
    head = f"{report.source} · {keys} · {report.schema}{log}"
    print_line(f"[bold]mas triage state[/] {escape(head)}")
    if not report.problems:
        print_line("[green]state is clean[/]")
        return
    table = Grid(header_style="bold")
    for name in ("key", "problem", "what", "last writer", "where", "fix"):
        table.add_column(name, no_wrap=name in ("key", "problem"))
    for p in report.problems:
        table.add_row(
            escape(p.key),
            f"[red]{p.kind}[/]",
            escape(p.message),
            escape(p.writer or "-"),
            escape(p.where or "-"),
            escape(p.hint),
        )
    print_table(table)
