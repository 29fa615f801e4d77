"""`mas triage loops` and `mas triage state`: read logs and state, report what went wrong."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mas_cli.cli.run import HomeOption

if TYPE_CHECKING:
    from mas_cli.triage.report import LoopReport
    from mas_cli.triage.thresholds import Thresholds

app = typer.Typer(
    help="Find loops in agent logs and bad values in shared state.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

FORMATS = ("table", "json", "md")
FailOn = ("warning", "error")


@app.command("loops")
def loops(
    logs: Annotated[
        list[str],
        typer.Argument(help="Log files (gzip is fine), or - for stdin.", show_default=False),
    ],
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format",
            help="auto, mas, otlp, openai-agents or text.",
            metavar="[auto|mas|otlp|openai-agents|text]",
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
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="table, json or md.", metavar="[table|json|md]")
    ] = "table",
    json_out: Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")] = False,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="Exit 1 when a finding is at least this: warning or error.",
            metavar="[warning|error]",
        ),
    ] = "error",
) -> None:
    """Find loops: turns, repeated calls and failures, ping-pong, monologues, token growth, stops.

    Exit 0 clean, 1 a finding at or above --fail-on, 2 nothing could be read.
    """
    from mas_cli.cli.render.triage import SHOWN, loops_report
    from mas_cli.errors import UsageError
    from mas_cli.events.formats import check_format
    from mas_cli.events.formats.text import compile_pattern
    from mas_cli.triage.findings import RANK
    from mas_cli.triage.scan import ScanOptions, scan

    out = _output_format(fmt, json_out)
    if fail_on not in FailOn:
        raise UsageError(f"--fail-on {fail_on!r} is not known", hint="use warning or error")
    check_format(log_format)
    if pattern and log_format not in ("auto", "text"):
        raise UsageError(
            f"--pattern reads text logs, not {log_format}", hint="drop --log-format or --pattern"
        )
    options = ScanOptions(
        fmt=log_format,
        pattern=compile_pattern(pattern) if pattern else None,
        thresholds=_thresholds(crew, threshold or []),
        keep=None if out == "json" else SHOWN,  # a table shows the costliest: memory stays flat
    )
    report = scan(logs, options)
    if report.records == 0:
        _nothing_readable(report, logs)
    loops_report(report, out)
    raise typer.Exit(1 if report.worst() >= RANK[fail_on] else 0)


def _output_format(fmt: str, json_out: bool) -> str:
    from mas_cli.errors import UsageError

    out = "json" if json_out else fmt
    if out not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not known", hint=f"use one of: {', '.join(FORMATS)}")
    return out


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
        hint="is it a mas, OTLP JSON, OpenAI Agents, chat, SWE-agent, OpenHands or text log? "
        "name it with --log-format, or describe text lines with --pattern",
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
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="table or json.", metavar="[table|json]")
    ] = "table",
    json_out: Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")] = False,
) -> None:
    """Check shared state: missing keys, nulls, types, enums, ranges, unknown keys, and writes.

    Exit 0 clean, 1 something is wrong, 2 unreadable input.
    """
    from mas_cli.cli.render.triage import state_report
    from mas_cli.triage.check_state import check_state

    out = _output_format(fmt, json_out)
    report = check_state(state_file, crew, schema, log, home)
    state_report(report, "json" if out == "json" else "table")
    raise typer.Exit(1 if report.problems else 0)
