"""`mas runs` and `mas show`: read run logs back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mas_cli.cli.batch import BatchOption, LastBatchOption, chosen_batch
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
    if batches or batch or last_batch:
        _batch_runs(home, batch, last_batch, json_out=json_out)
        return
    from dataclasses import asdict

    from mas_cli.cli import render
    from mas_cli.cli.render.runs import runs_table
    from mas_cli.cost.history import parse_since
    from mas_cli.events.runs import RunFilter, select_runs
    from mas_cli.events.store import home_dir, runs_dir

    where = RunFilter(crew, _status(status), parse_since(since) if since else None)
    rows, crews = select_runs(home_dir(home), where, limit)
    if crew and crew not in crews and crews and not since:
        unknown_crew(crew, crews)
    if json_out:
        render.json_out([asdict(r) for r in rows])
    elif not rows:
        render.stderr.print(_nothing(runs_dir(home_dir(home)), crews))
    else:
        runs_table(rows)


def _batch_runs(home: Path | None, ref: str | None, last: bool, *, json_out: bool) -> None:
    from mas_cli.cli import render
    from mas_cli.cli.render import batch as draw

    view = chosen_batch(home, ref, last)
    if view is None:
        from mas_cli.batch.report import list_batches
        from mas_cli.events.store import home_dir

        rows = list_batches(home_dir(home))
        render.json_out(rows) if json_out else draw.batches_table(rows)
    elif json_out:
        render.json_out([item.__dict__ for item in view.items])
    else:
        draw.items_table(view)


def _status(status: str | None) -> str | None:
    from mas_cli.events.runs import STATUSES

    if status is None or status in STATUSES:
        return status
    from mas_cli.errors import UsageError
    from mas_cli.spec.findings import did_you_mean  # only for a mistake: it loads PyYAML

    hint = did_you_mean(status, STATUSES) or f"one of: {', '.join(STATUSES)}"
    raise UsageError(f"--status {status!r} is not a run status", hint=hint)


def unknown_crew(crew: str, crews: set[str]) -> None:
    from mas_cli.errors import UsageError
    from mas_cli.spec.findings import did_you_mean

    known = ", ".join(sorted(crews))
    hint = did_you_mean(crew, crews) or f"crews with runs here: {known}"
    raise UsageError(f"no runs of crew {crew!r}", hint=hint)


def _nothing(folder: Path, crews: set[str]) -> str:
    if not crews:
        return f"no runs under {folder} yet: try mas run crews/fraud-review/crew.yaml --offline"
    return "no runs match these filters (mas runs without them lists every run)"


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
    from mas_cli.cli import render
    from mas_cli.cli.render.runs import run_tree as draw
    from mas_cli.cli.render.runs import tree_json
    from mas_cli.errors import UsageError
    from mas_cli.events.runs import run_tree
    from mas_cli.events.store import home_dir, resolve_log
    from mas_cli.events.transcript import read_transcript

    if run is not None and run.startswith("b-") and batch is None:
        batch = run  # batch ids start with b-, run ids with a date
    view = chosen_batch(home, batch, last_batch)
    if view is not None:
        from mas_cli.cli.render.batch import overview

        render.json_out(view.to_json()) if json_out else overview(view)
        return
    if run is None and not last:
        raise UsageError("name a run", hint="mas show RUN_ID, or mas show --last")
    log = resolve_log(home_dir(home), run, last)
    words = read_transcript(log) if full else None
    if json_out:
        render.json_out(tree_json(run_tree(log), words))
    else:
        draw(run_tree(log), words)
