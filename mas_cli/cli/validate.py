"""`mas validate`: the Typer signature; cli/actions/validate.py does the work."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mas_cli.cli.actions import validate as actions


def validate(
    crews: Annotated[list[Path], typer.Argument(help="Crew files to check.", show_default=False)],
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Check crew files: structure, references, the task graph, prompts, tools and schemas.

    Exit 0 when every file is valid, 2 when one is not (or has warnings, with --strict).
    """
    raise typer.Exit(actions.validate(crews=crews, strict=strict, json_out=json_out))
