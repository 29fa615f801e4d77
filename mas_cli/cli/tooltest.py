"""`mas tool-test`: run one tool alone (or every tool's examples), with no model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mas_cli.cli.options import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, HomeOption

if TYPE_CHECKING:
    from mas_cli.tools.testresult import ToolTest

CrewOption = Annotated[
    Path | None,
    typer.Option(
        "--crew",
        "-c",
        help="The crew file (default: crew.yaml or mas.yaml here).",
        show_default=False,
    ),
]
ArgOption = Annotated[
    list[str] | None,
    typer.Option(
        "--arg",
        "-a",
        help="An argument, key=value (repeatable); the value is read as its parameter's type.",
        show_default=False,
    ),
]
ArgsOption = Annotated[
    str | None,
    typer.Option("--args", help="Arguments as a JSON object, or @file.json.", show_default=False),
]


def tool_test(
    tool: Annotated[
        str | None,
        typer.Argument(help="The tool to test: a name under tools:.", show_default=False),
    ] = None,
    crew: CrewOption = None,
    pairs: ArgOption = None,
    args_json: ArgsOption = None,
    repeat: Annotated[int, typer.Option("--repeat", "-n", help="How many runs.")] = 1,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run the tool every time; read and write no cache.")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Seconds per run (default: the tool's timeout_s)."),
    ] = None,
    all_tools: Annotated[
        bool, typer.Option("--all", help="Run every tool on each of its examples (a CI check).")
    ] = False,
    full: Annotated[bool, typer.Option("--full", help="Show whole outputs.")] = False,
    home: HomeOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Run a tool alone, with no model: latency, output, determinism, its own traceback.

    Exit 0 all good, 1 a tool failed, timed out or broke its determinism, or --all ran no tool
    (each skipped or answered from the cache), 2 bad input.
    """
    from mas_cli.cli.render.tooltest import tool_tests
    from mas_cli.events.store import home_dir
    from mas_cli.tools.tooltest import Request, run_tool_tests

    request = Request(
        tool=tool,
        crew=crew,
        home=home_dir(home),
        pairs=pairs or [],
        args_json=args_json,
        repeat=repeat,
        use_cache=not no_cache,
        timeout_s=timeout,
        all_tools=all_tools,
    )
    tests = run_tool_tests(request)
    tool_tests(tests, full=full, as_json=json_out, single=not all_tools)
    raise typer.Exit(_exit_code(tests, all_tools=all_tools))


def _exit_code(tests: list[ToolTest], *, all_tools: bool) -> int:
    """0 all good; 1 a tool failed, timed out or broke determinism, or (--all) no tool ran at
    all (each skipped or answered from the cache); 2 bad arguments given."""
    from mas_cli.tools.testresult import PASSING

    if not all_tools and tests and tests[0].verdict == "bad_arguments":
        return EXIT_USAGE
    if all_tools and not any(t.ran for t in tests):
        return EXIT_FAILURE  # a CI check that ran nothing must not pass
    return EXIT_OK if all(t.verdict in PASSING for t in tests) else EXIT_FAILURE
