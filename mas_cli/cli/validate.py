"""`mas validate`: load crew files and print a summary of each, or all of its problems."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def validate(
    crews: Annotated[list[Path], typer.Argument(help="Crew files to check.", show_default=False)],
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Check crew files: structure, references, the task graph, prompts, tools and schemas.

    Exit 0 when every file is valid, 2 when one is not (or has warnings, with --strict).
    """
    from mas_cli.cli import render
    from mas_cli.spec.summary import check_file

    reports = [check_file(path) for path in crews]
    if json_out:
        render.json_out([r.to_json() for r in reports])
    else:
        for report in reports:
            render.validation(report)
    failed = any(not r.ok or (strict and r.warnings) for r in reports)
    raise typer.Exit(2 if failed else 0)
