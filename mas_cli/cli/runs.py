"""`mas runs` and `mas show`: read run logs back."""

from __future__ import annotations

from typing import Annotated

import typer

from mas_cli.cli.run import HomeOption


def runs(
    home: HomeOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many recent runs to list.")] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """List recent runs: id, crew, status, start, duration, model calls, tokens, cost."""
    from dataclasses import asdict

    from mas_cli.cli import render
    from mas_cli.cli.render.runs import runs_table
    from mas_cli.events.runs import run_row
    from mas_cli.events.store import EVENTS, home_dir, run_ids, runs_dir

    folder = runs_dir(home_dir(home))
    rows = [
        run_row(folder / run_id / EVENTS) for run_id in reversed(run_ids(home_dir(home))[-limit:])
    ]
    if json_out:
        render.json_out([asdict(r) for r in rows])
    elif not rows:
        render.stderr.print(
            f"no runs under {folder} yet: try mas run crews/fraud-review/crew.yaml --offline"
        )
    else:
        runs_table(rows)


def show(
    run: Annotated[
        str | None, typer.Argument(help="A run id (or prefix), or an events.jsonl path.")
    ] = None,
    last: Annotated[bool, typer.Option("--last", help="The most recent run.")] = False,
    home: HomeOption = None,
) -> None:
    """Draw a run as a tree: tasks, turns, model and tool calls, state writes, limit hits."""
    from mas_cli.cli.render.runs import run_tree as draw
    from mas_cli.errors import UsageError
    from mas_cli.events.runs import run_tree
    from mas_cli.events.store import home_dir, resolve_log

    if run is None and not last:
        raise UsageError("name a run", hint="mas show RUN_ID, or mas show --last")
    draw(run_tree(resolve_log(home_dir(home), run, last)))
