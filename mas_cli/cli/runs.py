"""`mas runs` and `mas show`: read run logs back."""

from __future__ import annotations

from typing import Annotated

import typer

from mas_cli.cli.actions import runs as actions
from mas_cli.cli.batch import BatchOption, LastBatchOption
from mas_cli.cli.options import HomeOption

app = typer.Typer(
    help="List recent runs; `mas runs prune` removes old ones.", no_args_is_help=False
)

StatusOption = Annotated[
    str | None,
    typer.Option(
        "--status",
        help="Only runs in this state: ok, failed, stopped, interrupted, running, killed, "
        "or unfinished (running or killed).",
        metavar="STATUS",
        show_default=False,
    ),
]


@app.callback(invoke_without_command=True)
def runs(
    ctx: typer.Context,
    home: HomeOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many recent runs to list.")] = 20,
    crew: Annotated[
        str | None, typer.Option("--crew", help="Only runs of this crew.", show_default=False)
    ] = None,
    status: StatusOption = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Only runs started since: 7d, 12h, 2w or a date.", metavar="WHEN"
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    batch: BatchOption = None,
    last_batch: LastBatchOption = False,
    batches: Annotated[bool, typer.Option("--batches", help="List the batches instead.")] = False,
) -> None:
    """List recent runs: id, crew, status, start, duration, model calls, tokens, cost.

    With --batch (or --last-batch), the batch's items, dearest first; --batches lists batches.
    """
    if ctx.invoked_subcommand:
        return
    code = actions.runs(
        home=home, limit=limit, crew=crew, status=status, since=since, json_out=json_out,
        batch=batch, last_batch=last_batch, batches=batches,
    )  # fmt: skip
    raise typer.Exit(code)


@app.command("prune")
def prune(
    home: HomeOption = None,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Remove runs started before: 30d, 12h, 2w or a date.",
            metavar="WHEN",
        ),
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option("--keep", help="Keep the newest N runs, remove the rest.", metavar="N", min=0),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would go, remove nothing.")
    ] = False,
) -> None:
    """Remove old runs from the home (the tool cache is left alone)."""
    from mas_cli.cli.render.runs import pruned
    from mas_cli.cost.history import parse_since
    from mas_cli.errors import UsageError
    from mas_cli.events.prune import prune_runs
    from mas_cli.events.store import home_dir

    if older_than is None and keep is None:
        raise UsageError(
            "say which runs to remove", hint="mas runs prune --older-than 30d, or --keep 50"
        )
    cutoff = parse_since(older_than, flag="--older-than") if older_than else None
    pruned(prune_runs(home_dir(home), older_than=cutoff, keep=keep, dry_run=dry_run), dry_run)


def show(
    run: Annotated[
        str | None,
        typer.Argument(help="A run id (or prefix), its folder, or its events.jsonl path."),
    ] = None,
    last: Annotated[bool, typer.Option("--last", help="The most recent run.")] = False,
    home: HomeOption = None,
    full: Annotated[
        bool,
        typer.Option("--full", help="Also model text, tool arguments and tool results."),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the tree as JSON.")] = False,
    batch: BatchOption = None,
    last_batch: LastBatchOption = False,
) -> None:
    """Draw a run as a tree: tasks, turns, model and tool calls, state writes, limit hits.

    With --batch (or --last-batch, or a batch id as RUN): the batch, its totals by status and
    its costliest items.
    """
    code = actions.show(
        run=run, last=last, home=home, full=full, json_out=json_out, batch=batch,
        last_batch=last_batch,
    )  # fmt: skip
    raise typer.Exit(code)
