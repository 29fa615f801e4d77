"""`mas triage loops` and `mas triage state`: read logs and state, report what went wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mas_cli.cli.actions import triage as actions
from mas_cli.cli.actions.triage import LOOPS_FORMATS
from mas_cli.cli.batch import BatchOption, LastBatchOption
from mas_cli.cli.options import EXIT_GATE, EXIT_OK, HomeOption, format_option, output_format
from mas_cli.events.formats import FORMATS

app = typer.Typer(
    help="Find loops in agent logs and bad values in shared state.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

STATE_FORMATS = ("table", "json")


@app.command("loops")
def loops(
    logs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Log files (gzip is fine), run ids (or prefixes), or - for stdin; none with "
            "--last or --batch.",
            show_default=False,
        ),
    ] = None,
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format",
            help=f"{', '.join(FORMATS[:-1])} or {FORMATS[-1]}.",
            metavar="FORMAT",
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
    last: Annotated[bool, typer.Option("--last", help="The most recent run.")] = False,
    batch: BatchOption = None,
    last_batch: LastBatchOption = False,
    home: HomeOption = None,
) -> None:
    """Find loops: turns, repeated calls and failures, ping-pong, monologues, token growth, stops.

    Exit 0 clean, 1 a finding at or above --fail-on, 2 unreadable: nothing could be read, or
    more than half the lines of an input were skipped. With --follow: 0 at Ctrl-C or the
    input's end, 1 when --exit-on tripped.
    """
    code = actions.loops(
        logs=logs, log_format=log_format, pattern=pattern, threshold=threshold, crew=crew,
        fmt=fmt, json_out=json_out, fail_on=fail_on, follow=follow, exit_on=exit_on,
        on_finding=on_finding, last=last, batch=batch, last_batch=last_batch, home=home,
    )  # fmt: skip
    raise typer.Exit(code)


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
