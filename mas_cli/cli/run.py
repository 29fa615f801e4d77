"""`mas run`: the Typer signature; cli/actions/run.py does the work."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mas_cli.cli.actions import run as actions
from mas_cli.cli.actions.run import MAX_INPUTS_BYTES, parse_inputs
from mas_cli.cli.options import HomeOption, OtelEndpointOption, OtelOption, limit_option

__all__ = ["MAX_INPUTS_BYTES", "parse_inputs", "run"]


def run(
    crew: Annotated[Path, typer.Argument(help="The crew file.", show_default=False)],
    input_pairs: Annotated[
        list[str] | None,
        typer.Option("--input", "-i", help="An input value: key=value (repeatable)."),
    ] = None,
    inputs_file: Annotated[
        Path | None, typer.Option("--inputs", help="Inputs from a JSON object file.")
    ] = None,
    limit: Annotated[
        list[str] | None,
        limit_option(
            "Set a limit for this run over the crew file's, e.g. max_llm_calls=40 (repeatable)."
        ),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline", help="Use the offline model for every agent (no key, no network)."
        ),
    ] = False,
    replay: Annotated[
        str | None,
        typer.Option(
            "--replay",
            metavar="RUN_ID",
            help="Serve every model call from that run's recording (llm.jsonl): no network, "
            "no spend. Stops at the first request that differs from the recording.",
            show_default=False,
        ),
    ] = None,
    home: HomeOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print output.json on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
    estimate: Annotated[
        bool,
        typer.Option(
            "--estimate",
            help="Offline dry run: print the expected cost at the configured models' prices.",
        ),
    ] = False,
    otel: OtelOption = False,
    otel_endpoint: OtelEndpointOption = None,
) -> None:
    """Run a crew to completion or to a clear stop; every step goes to the run log.

    Exit 0 ok, 1 a task failed, 2 bad crew or inputs, 3 stopped by a limit, 130 interrupted.
    """
    code = actions.run(
        crew=crew, input_pairs=input_pairs, inputs_file=inputs_file, limit=limit, offline=offline,
        replay=replay, home=home, json_out=json_out, quiet=quiet, estimate=estimate, otel=otel,
        otel_endpoint=otel_endpoint,
    )  # fmt: skip
    raise typer.Exit(code)
