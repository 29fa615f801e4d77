"""`mas resume`: continue a stopped run as a new run; nothing paid twice, no effect repeated."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mas_cli.cli.batch import MaxCalls, MaxCost, MaxTokens
from mas_cli.cli.batch import resume as resume_batch
from mas_cli.cli.options import (
    EXIT_BY_STATUS,
    HomeOption,
    OtelEndpointOption,
    OtelOption,
    format_option,
    limit_option,
    output_format,
)
from mas_cli.errors import UsageError

if TYPE_CHECKING:
    from mas_cli.engine.resume import ResumeOptions
    from mas_cli.export.live import LiveExport

FORMATS = ("table", "json")


def resume(
    ref: Annotated[
        str | None,
        typer.Argument(
            help="The run: its id (or a unique prefix), or its folder; or a batch id (b-...).",
            show_default=False,
        ),
    ] = None,
    last: Annotated[bool, typer.Option("--last", help="Resume the latest run.")] = False,
    limit: Annotated[
        list[str] | None,
        limit_option(
            "Raise (or lower) a limit for this run, e.g. max_llm_calls=40 (repeatable). "
            "Budgets count what the run resumed spent."
        ),
    ] = None,
    crew: Annotated[
        Path | None,
        typer.Option(
            "--crew", help="The crew file, if it moved since the run.", show_default=False
        ),
    ] = None,
    repeat_in_flight: Annotated[
        bool,
        typer.Option(
            "--repeat-in-flight",
            help="Make side_effect calls whose outcome is unknown again (check first that "
            "they did not take effect).",
        ),
    ] = False,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", "-c", min=1, max=1000, help="A batch: items at once."),
    ] = None,
    max_cost_usd: MaxCost = None,
    max_llm_calls: MaxCalls = None,
    max_tokens: MaxTokens = None,
    home: HomeOption = None,
    fmt: Annotated[str, format_option(FORMATS)] = "table",
    json_out: Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
    otel: OtelOption = False,
    otel_endpoint: OtelEndpointOption = None,
) -> None:
    """Resume a run that stopped (a limit, a failure, Ctrl-C, a kill) as a new run.

    Tasks that ended ok keep their outputs; the others run again, each model call answered
    from the recording while the request is unchanged (no spend), then live. Side effects
    that completed are not made again. Exit codes as for `mas run`.

    A batch id (b-...) finishes the batch: items done are skipped, the others resumed; its
    budget and concurrency options replace the ones the batch began with.
    """
    as_json = output_format(fmt, json_out, FORMATS) == "json"
    if not ref and not last:
        raise UsageError("name the run to resume", hint="mas resume RUN_ID, or mas resume --last")
    if ref and _names_a_batch(home, ref):
        if limit or crew or repeat_in_flight or otel or otel_endpoint:
            raise UsageError(
                "--limit, --crew, --repeat-in-flight and --otel resume one run, not a batch",
                hint="for a batch: mas resume BATCH_ID [--max-cost-usd ...] [--concurrency N]",
            )
        budget = (max_cost_usd, max_llm_calls, max_tokens)
        resume_batch(ref, concurrency, *budget, home=home, json_out=as_json, quiet=quiet)
        return
    from mas_cli.cli.actions.run import close_live, live_export
    from mas_cli.engine.resume import ResumeOptions

    options = ResumeOptions(tuple(limit or ()), crew, repeat_in_flight, last=last)
    live = live_export(otel, otel_endpoint)
    try:
        _resume(ref, options, home, as_json=as_json, quiet=quiet, live=live)
    finally:
        close_live(live)


def _names_a_batch(home: Path | None, ref: str) -> bool:
    from mas_cli.batch.folder import is_batch
    from mas_cli.events.store import home_dir

    return is_batch(home_dir(home), ref)


def _resume(
    ref: str | None,
    options: ResumeOptions,
    home: Path | None,
    *,
    as_json: bool,
    quiet: bool,
    live: LiveExport | None,
) -> None:
    import asyncio

    from mas_cli.cli import render
    from mas_cli.cli.render.run import Progress, ToolErrors, run_result
    from mas_cli.engine.resume import claimed, prepare_resume
    from mas_cli.engine.run import RunOptions, run_crew
    from mas_cli.events.store import home_dir

    tool_errors = ToolErrors()
    listeners = (tool_errors,) if quiet else (tool_errors, Progress())
    listeners = (*listeners, live) if live else listeners
    where = home_dir(home)
    loaded, run_options = prepare_resume(
        where, ref, options, RunOptions(where, listeners=listeners)
    )
    origin = run_options.resume
    assert origin is not None, "prepare_resume names the run continued"
    if origin.status == "ok":
        render.stderr.print(f"run {origin.run_id} ended ok: nothing to resume")
        raise typer.Exit(0)
    if not quiet:
        carried = ", ".join(origin.carried) or "none"
        render.stderr.print(f"resuming run {origin.run_id} · tasks ended ok: {carried}")
    with claimed(origin):
        result = asyncio.run(run_crew(loaded, run_options))
    run_result(result, loaded.spec, as_json=as_json, tool_errors=tool_errors.count)
    raise typer.Exit(EXIT_BY_STATUS[result.status])
