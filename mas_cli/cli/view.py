"""`mas view`: a run or a batch as one self-contained HTML file, opened in the browser."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mas_cli.cli.options import HomeOption


def view(
    run: Annotated[
        str | None,
        typer.Argument(help="A run id (or prefix), its folder or events.jsonl, or a batch id."),
    ] = None,
    last: Annotated[bool, typer.Option("--last", help="The most recent run.")] = False,
    home: HomeOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write here instead of view.html beside the run or batch.", metavar="FILE"
        ),
    ] = None,
    no_open: Annotated[
        bool, typer.Option("--no-open", help="Write the file, do not open a browser.")
    ] = False,
    include_content: Annotated[
        bool,
        typer.Option("--include-content", help="Also model text, tool arguments and tool results."),
    ] = False,
) -> None:
    """Write a run (or a batch) as one HTML file: timeline, costs, findings, shared state."""
    from mas_cli.cli import render
    from mas_cli.errors import UsageError
    from mas_cli.events.store import home_dir
    from mas_cli.view.batch import write_view

    if run is None and not last:
        raise UsageError("name a run or a batch", hint="mas view RUN_ID, BATCH_ID or --last")
    path = write_view(home_dir(home), run, last, out, include_content)
    render.stdout.print(str(path), markup=False, highlight=False, soft_wrap=True)
    if not no_open and sys.stdout.isatty():
        _open(path)


def _open(path: Path) -> None:
    import webbrowser  # only on the path that opens a browser

    webbrowser.open(path.resolve().as_uri())
