"""`mas triage loops` and `mas triage state`: read logs and state, report what went wrong."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mas_cli.cli.batch import BatchOption, LastBatchOption, batch_logs, chosen_batch
from mas_cli.cli.options import EXIT_GATE, EXIT_OK, HomeOption, format_option, output_format

if TYPE_CHECKING:
    from mas_cli.triage.report import LoopReport
    from mas_cli.triage.thresholds import Thresholds

app = typer.Typer(
    help="Find loops in agent logs and bad values in shared state.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

LOOPS_FORMATS = ("table", "json", "md")
STATE_FORMATS = ("table", "json")
FailOn = ("warning", "error")


def _logs(logs: list[str], home: Path | None, batch: str | None, last: bool) -> list[str]:
    """The logs given, or the run logs of the batch named (its items' last runs)."""
    from mas_cli.errors import UsageError

    view = chosen_batch(home, batch, last)
    if view is not None:
        return [*logs, *map(str, batch_logs(home, view))]
    if not logs:
        raise UsageError("name a log to read", hint="mas triage loops LOG, or --batch BATCH_ID")
    return logs


@app.command("loops")
def loops(
    logs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Log files (gzip is fine), or - for stdin; none with --batch.", show_default=False
        ),
    ] = None,
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format",
            help="auto, mas, otlp, jaeger, langfuse, openai-agents or text.",
            metavar="[auto|mas|otlp|jaeger|langfuse|openai-agents|text]",
        ),
    ] = "auto",
    pattern: Annotated[
        str | None,
        typer.Option(
            "--pattern",
            help="Text logs: a regex with named groups ts, trace, agent, task, tool, tokens.",
        ),
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option("--threshold", "-t", help="NAME=VALUE, e.g. turns=8 (repeatable)."),
    ] = None,
    crew: Annotated[
        Path | None,
        typer.Option("--crew", help="Take thresholds from this crew's triage: section."),
    ] = None,
    fmt: Annotated[str, format_option(LOOPS_FORMATS)] = "table",
    json_out: Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")] = False,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="Exit 1 when a finding is at least this: warning or error.",
            metavar="[warning|error]",
        ),
    ] = "error",
    follow: Annotated[
        bool,
        typer.Option("--follow", help="Watch one growing log (or -): print findings as they fire."),
    ] = False,
    exit_on: Annotated[
        str | None,
        typer.Option(
            "--exit-on",
            help="With --follow: stop with exit 1 at the first finding this bad.",
            metavar="[warning|error]",
        ),
    ] = None,
    on_finding: Annotated[
        str | None,
        typer.Option(
            "--on-finding",
            help="With --follow: run this command (no shell) with each finding as JSON on stdin.",
        ),
    ] = None,
    batch: BatchOption = None,
    last_batch: LastBatchOption = False,
    home: HomeOption = None,
) -> None:
    """Find loops: turns, repeated calls and failures, ping-pong, monologues, token growth, stops.

    Exit 0 clean, 1 a finding at or above --fail-on, 2 unreadable: nothing could be read, or
    more than half the lines of an input were skipped. With --follow: 0 at Ctrl-C or the
    input's end, 1 when --exit-on tripped.
    """
    from mas_cli.cli.render.triage import SHOWN, loops_report
    from mas_cli.errors import UsageError
    from mas_cli.events.formats import check_format
    from mas_cli.events.formats.text import compile_pattern
    from mas_cli.triage.findings import RANK
    from mas_cli.triage.scan import ScanOptions, scan

    out = output_format(fmt, json_out, LOOPS_FORMATS)
    logs = _logs(logs or [], home, batch, last_batch)
    if fail_on not in FailOn:
        raise UsageError(f"--fail-on {fail_on!r} is not known", hint="use warning or error")
    check_format(log_format)
    if pattern and log_format not in ("auto", "text"):
        raise UsageError(
            f"--pattern reads text logs, not {log_format}", hint="drop --log-format or --pattern"
        )
    if follow or exit_on or on_finding:
        if not follow:
            raise UsageError("--exit-on and --on-finding act on a live log", hint="add --follow")
        _follow(
            logs, out, exit_on, on_finding, log_format, pattern, _thresholds(crew, threshold or [])
        )
    options = ScanOptions(
        fmt=log_format,
        pattern=compile_pattern(pattern) if pattern else None,
        thresholds=_thresholds(crew, threshold or []),
        keep=None if out == "json" else SHOWN,  # a table shows the costliest: memory stays flat
        rates_per_source=bool(batch or last_batch),  # items run at once: each run judged alone
    )
    report = scan(logs, options)
    if report.records == 0:
        _nothing_readable(report, logs)
    loops_report(report, out)
    if report.unreadable():
        _mostly_unreadable(report)
    raise typer.Exit(EXIT_GATE if report.worst() >= RANK[fail_on] else EXIT_OK)


def _follow(
    logs: list[str],
    out: str,
    exit_on: str | None,
    on_finding: str | None,
    fmt: str,
    pattern: str | None,
    th: Thresholds,
) -> None:
    from mas_cli.cli.render.follow import follow_live
    from mas_cli.errors import UsageError
    from mas_cli.events.formats.text import compile_pattern
    from mas_cli.triage.findings import RANK
    from mas_cli.triage.follow import FollowOptions

    if len(logs) != 1 or out == "md" or exit_on not in (None, *FailOn):
        raise UsageError(
            "--follow watches one log, as a table or --json; --exit-on takes warning or error",
            hint="e.g. mas triage loops app.log --follow --exit-on error",
        )
    rank = RANK[exit_on] if exit_on else 0
    options = FollowOptions(fmt, compile_pattern(pattern) if pattern else None, th, rank)
    summary = follow_live(logs[0], options, out == "json", on_finding)
    raise typer.Exit(EXIT_GATE if summary.tripped else EXIT_OK)


def _thresholds(crew: Path | None, overrides: list[str]) -> Thresholds:
    from mas_cli.triage.thresholds import build

    if crew is None:
        return build(None, overrides)
    from mas_cli.spec.loader import load_crew  # pydantic and the crew models: only when asked

    return build(load_crew(crew).spec.triage.model_dump(exclude_none=True), overrides)


def _nothing_readable(report: LoopReport, logs: list[str]) -> None:
    from mas_cli.cli.render.triage import bad_lines
    from mas_cli.errors import LogFormatError

    bad_lines(report)
    raise LogFormatError(
        f"nothing readable in {', '.join(logs)}",
        hint="is it a mas, OTLP JSON, Jaeger, Langfuse, OpenAI Agents, chat, SWE-agent, "
        "OpenHands or text log? name it with --log-format, "
        "or describe text lines with --pattern",
    )


def _mostly_unreadable(report: LoopReport) -> None:
    from mas_cli.errors import LogFormatError

    said = [
        f"{'standard input' if i.path == '-' else i.path} read as {i.fmt}: "
        f"{i.skipped:,} of {i.lines:,} lines skipped, {i.records:,} records"
        for i in report.unreadable()
    ]
    raise LogFormatError(
        "the verdict is unreadable, not clean: " + "; ".join(said),
        hint="name the format with --log-format, describe text lines with --pattern, "
        "or leave that input out",
    )


@app.command("state")
def state(
    state_file: Annotated[
        Path, typer.Argument(help="A state.json, or any JSON object.", show_default=False)
    ],
    crew: Annotated[
        Path | None, typer.Option("--crew", help="Check against this crew's state: schema.")
    ] = None,
    schema: Annotated[
        Path | None, typer.Option("--schema", help="Check against this JSON Schema file.")
    ] = None,
    log: Annotated[
        str | None,
        typer.Option(
            "--log", help="A run id (or prefix), or an events.jsonl: check its writes too."
        ),
    ] = None,
    home: HomeOption = None,
    fmt: Annotated[str, format_option(STATE_FORMATS)] = "table",
    json_out: Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")] = False,
) -> None:
    """Check shared state: missing keys, nulls, types, enums, ranges, unknown keys, and writes.

    Exit 0 clean, 1 something is wrong, 2 unreadable input.
    """
    from mas_cli.cli.render.triage import state_report
    from mas_cli.triage.check_state import check_state

    out = output_format(fmt, json_out, STATE_FORMATS)
    report = check_state(state_file, crew, schema, log, home)
    state_report(report, "json" if out == "json" else "table")
    raise typer.Exit(EXIT_GATE if report.problems else EXIT_OK)
