"""`mas init`: a starter crew to run at once and edit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def init(
    folder: Annotated[
        Path, typer.Argument(help="Where to write crew.yaml and tools.py.", show_default=False)
    ] = Path(),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Write a starter crew (two agents, a tool, a state schema, limits) that runs offline."""
    from mas_cli.cli import render
    from mas_cli.spec.init import write_starter

    written = write_starter(folder, force=force)
    for path in written:
        render.stdout.print(f"wrote {path}")
    crew = written[0]
    render.stderr.print(f"next: mas run {crew} --offline   (then edit {crew})")
