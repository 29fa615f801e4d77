"""The Typer app, behind the one error boundary of cli/boundary.py.

Command modules import the core inside their functions so that `mas --help`
loads no provider SDK, no tokenizer and no engine.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from mas_cli import __version__
from mas_cli.cli import helptext
from mas_cli.cli.boundary import exit_code, flushed, patch_rich, quiet_stdout
from mas_cli.cli.commands import APP_HELP, COMMANDS
from mas_cli.cli.exits import EXIT_FAILURE, EXIT_OK
from mas_cli.cli.streams import degrade_streams


class _Boundary(TyperGroup):
    """Turns errors raised anywhere under a command into a message on stderr and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (Exception, KeyboardInterrupt) as exc:
            if isinstance(exc, typer.Exit | typer.Abort) or (code := exit_code(exc)) is None:
                raise
            raise typer.Exit(code) from None


helptext.install()
patch_rich()

app = typer.Typer(
    name="mas",
    cls=_Boundary,
    help=APP_HELP,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold API keys
    pretty_exceptions_enable=False,  # our boundary prints errors; MAS_DEBUG=1 shows the traceback
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mas {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Run multi-agent LLM crews with guard rails, and triage what they leave behind.

    Exit codes: 0 ok, 1 failure, 2 usage or bad input, 3 stopped by a limit, 130 interrupted.
    """


def _register() -> None:
    """Every command of cli/commands.py's table, with its line in `mas --help` from the table."""
    for command in COMMANDS:
        module, attr = command.target.split(":")
        target = getattr(importlib.import_module(module), attr)
        if command.group:
            app.add_typer(target, name=command.name, short_help=command.summary)
        else:
            app.command(command.name, short_help=command.summary)(target)


_register()


def main() -> int:
    """Console-script entry point."""
    degrade_streams()
    try:
        app(prog_name="mas")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else EXIT_FAILURE
    except BrokenPipeError:  # while printing help, outside the command's boundary
        quiet_stdout()
        return EXIT_OK
    else:
        code = EXIT_OK
    return flushed(code)
