"""`mas export`: runs as OpenTelemetry traces, to an OTLP JSON file or an OTLP/HTTP endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mas_cli.cli.options import HomeOption
from mas_cli.errors import UsageError


def export(
    refs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="RUN|BATCH",
            help="Run ids (or prefixes), run folders, events.jsonl paths or batch ids; "
            "the last run if none.",
            show_default=False,
        ),
    ] = None,
    last: Annotated[bool, typer.Option("--last", help="The most recent run.")] = False,
    to: Annotated[
        Path | None,
        typer.Option(
            "--to",
            metavar="FILE.jsonl",
            help="Write OTLP JSON, one export request a line, as the OpenTelemetry "
            "collector's file exporter does (- or none: stdout).",
            show_default=False,
        ),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            metavar="URL",
            help="Send to an OTLP/HTTP receiver (http://host:4318, or its /v1/traces URL); "
            "headers from OTEL_EXPORTER_OTLP_HEADERS.",
            show_default=False,
        ),
    ] = None,
    include_content: Annotated[
        bool,
        typer.Option(
            "--include-content",
            help="Add what each model call was asked and answered, and the run's inputs "
            "(known secrets stay masked).",
        ),
    ] = False,
    home: HomeOption = None,
) -> None:
    """Export runs as OpenTelemetry traces (GenAI conventions): one trace per run.

    Exit 0 ok, 1 the endpoint did not take the spans, 2 bad arguments or an unreadable log.
    """
    from mas_cli.cli import render
    from mas_cli.cli.render.plain import escape
    from mas_cli.events.store import home_dir
    from mas_cli.export import export_runs
    from mas_cli.export.source import export_paths

    if to is not None and endpoint:
        raise UsageError("--to and --endpoint cannot be combined", hint="give one of them")
    if last and refs:
        raise UsageError("--last and a run cannot be combined", hint="give one of them")
    chosen = export_paths(home_dir(home), refs or [])
    summary = export_runs(chosen.paths, to=to, endpoint=endpoint, content=include_content)
    runs = f"{summary.runs} run" + ("s" if summary.runs != 1 else "")
    target = escape(summary.target)  # a path or URL, never markup: out[bold].jsonl is a name
    render.stderr.print(f"exported {runs}, {summary.spans} spans to {target}")
    if chosen.gone:
        gone = len(chosen.gone)
        render.stderr.print(
            f"[yellow]warning:[/] {gone} run{'s' * (gone != 1)} of the batch "
            f"{'were' if gone != 1 else 'was'} not exported: no longer under the home "
            f"(removed by mas runs prune?), e.g. {escape(chosen.gone[0])}"
        )
    if summary.skipped_lines:
        render.stderr.print(
            f"[yellow]warning:[/] {summary.skipped_lines} log lines were not events and were "
            f"skipped (the first: {escape(summary.first_bad)})"
        )
