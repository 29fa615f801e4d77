"""`mas triage loops --follow`: each finding as it fires, and a closing summary on stderr."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rich.markup import escape

from mas_cli.cli.render.base import stderr, stdout
from mas_cli.cli.render.triage import SEVERITY_STYLE, _finding_json, bad_lines, spent
from mas_cli.events.jsonsafe import dumps
from mas_cli.records import replace
from mas_cli.words import figure, plural

if TYPE_CHECKING:
    from mas_cli.triage.follow import Fired, FollowOptions, FollowSummary
    from mas_cli.triage.report import LoopReport


def follow_live(
    name: str, options: FollowOptions, as_json: bool, on_finding: str | None
) -> FollowSummary:
    """Follow the log, print each finding (and send it to --on-finding's command), sum up."""
    from mas_cli.triage.follow import follow
    from mas_cli.triage.hook import Hook, parse_command
    from mas_cli.triage.report import LoopReport

    hook = Hook(parse_command(on_finding), _warn) if on_finding else None
    options = replace(options, warn=_warn)
    report = LoopReport()  # its units: the files (rotated, truncated) the locs point into

    def emit(fired: Fired) -> None:
        event = "update" if fired.update else "finding"
        payload = {"event": event, **_finding_json(report, fired.finding)}
        if as_json:
            sys.stdout.write(dumps(payload) + "\n")
            sys.stdout.flush()
        else:
            _finding(report, fired)
        if hook is not None:
            hook.send(payload)

    stderr.print(f"following {escape(name)} (Ctrl-C to stop)")
    summary = None
    try:
        summary = follow(name, options, emit, report.units)
    finally:
        if hook is not None:
            hook.close(stop=summary is None or summary.interrupted)
    _summary(summary)
    return summary


def _warn(message: str) -> None:
    stderr.print(f"[yellow]{escape(message)}[/]")


def _finding(report: LoopReport, fired: Fired) -> None:
    f = fired.finding
    style = SEVERITY_STYLE[f.severity]
    now = f"update, now an {f.severity}" if fired.update else f.severity
    when = f"{f.last_ts} " if f.last_ts else ""
    stdout.print(f"{escape(when)}[{style}]{now}[/] [bold]{f.detector}[/]: {escape(f.message)}")
    where = [f"agent {f.agent}" if f.agent else "", f"trace {f.trace}" if f.trace else ""]
    first, last = report.where(f.first), report.where(f.last)
    same_file = first.rsplit(":", 1)[0] == last.rsplit(":", 1)[0]  # not across a rotation
    lines = f"{first} → {report.line(f.last)}" if same_file else f"{first} → {last}"
    stdout.print(f"   where: {escape(' · '.join([*filter(None, where), lines]))}")
    stdout.print(f"   evidence: {escape(f.pattern)} · spent inside: {spent(f)}")
    stdout.print(f"   fix: {escape(f.fix)}")
    stdout.file.flush()


def _summary(s: FollowSummary) -> None:
    why = (
        f"stopped at the first {s.tripped.severity} (--exit-on)"
        if s.tripped
        else "stopped (Ctrl-C)"
        if s.interrupted
        else "the input ended"
    )
    updates = f" ({figure(s.updates)} updated)" if s.updates else ""
    moved = f" · rotated {plural(s.rotations, 'time')}" if s.rotations else ""
    moved += f" · truncated {plural(s.truncations, 'time')}" if s.truncations else ""
    stderr.print(
        f"{why}: {escape(s.source)} ({s.fmt or 'nothing read'}) · {plural(s.lines, 'line')} · "
        f"{plural(s.records, 'record')} · {plural(s.ended_traces, 'run')} ended, "
        f"{figure(s.open_traces)} still open · {plural(s.found, 'finding')}{updates}{moved}"
    )
    if s.bad.count:
        bad_lines_of(s)
    if s.unreadable and not s.tripped:
        stderr.print(
            f"[bold red]verdict: unreadable[/] ({figure(s.bad.count)} of {plural(s.lines, 'line')}"
            f" skipped, {plural(s.records, 'record')}): name the format with --log-format, or "
            "describe the lines with --pattern"
        )


def bad_lines_of(s: FollowSummary) -> None:
    """The unreadable lines, as a whole-file read reports them."""
    from mas_cli.triage.report import LoopReport

    bad_lines(LoopReport(bad=s.bad))
