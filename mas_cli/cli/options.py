"""What the Typer commands share: the `--home` option, `--format/-f` and `--limit`. The exit
codes and the `--format` check are in cli/exits.py, which the fast path reads without Typer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mas_cli.cli.exits import (
    EXIT_BY_STATUS,
    EXIT_FAILURE,
    EXIT_GATE,
    EXIT_INTERRUPTED,
    EXIT_LIMIT,
    EXIT_OK,
    EXIT_USAGE,
    output_format,
)

__all__ = [
    "EXIT_BY_STATUS",
    "EXIT_FAILURE",
    "EXIT_GATE",
    "EXIT_INTERRUPTED",
    "EXIT_LIMIT",
    "EXIT_OK",
    "EXIT_USAGE",
    "HomeOption",
    "OtelEndpointOption",
    "OtelOption",
    "format_option",
    "limit_option",
    "output_format",
]

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Where runs and the cache live (default $MAS_HOME or ./.mas).",
        show_default=False,
    ),
]


OtelOption = Annotated[
    bool,
    typer.Option(
        "--otel",
        help="Export spans live to OTEL_EXPORTER_OTLP_ENDPOINT (default "
        "http://localhost:4318); on by itself when that variable is set.",
    ),
]
OtelEndpointOption = Annotated[
    str | None,
    typer.Option(
        "--otel-endpoint",
        metavar="URL",
        help="Export spans live to this OTLP/HTTP endpoint (implies --otel).",
        show_default=False,
    ),
]


def format_option(choices: tuple[str, ...]) -> Any:
    """`--format/-f`, one of `choices` (the first is the default), checked by `output_format`."""
    return typer.Option(
        "--format", "-f", help=f"{', '.join(choices)}.", metavar=f"[{'|'.join(choices)}]"
    )


def limit_option(said: str) -> Any:
    """`--limit NAME=VALUE` (repeatable), laid over the crew file's limits (spec/overrides.py):
    `said` is the command's own help for it."""
    return typer.Option("--limit", metavar="NAME=VALUE", help=said)
