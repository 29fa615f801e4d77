"""The Typer app, its one error boundary, and the exit codes.

Exit codes: 0 ok, 1 failure (or a CI gate tripped), 2 usage or bad input, 3 stopped by a limit,
130 interrupted. Command modules import the core inside their functions so that `mas --help`
loads no provider SDK, no tokenizer and no engine.
"""

from __future__ import annotations

import codecs
import io
import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from mas_cli import __version__
from mas_cli.cli import batch as batch_cmd
from mas_cli.cli import cache as cache_cmd
from mas_cli.cli import cost as cost_cmd
from mas_cli.cli import helptext
from mas_cli.cli import init as init_cmd
from mas_cli.cli import run as run_cmd
from mas_cli.cli import runs as runs_cmd
from mas_cli.cli import tooltest as tooltest_cmd
from mas_cli.cli import triage as triage_cmd
from mas_cli.cli import validate as validate_cmd
from mas_cli.cli.options import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from mas_cli.errors import MasError, UsageError


class _Boundary(TyperGroup):
    """Turns errors raised anywhere under a command into a message on stderr and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        from mas_cli.cli import render

        try:
            return super().invoke(ctx)
        except MasError as exc:
            render.error(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            render.stderr.print("[yellow]interrupted[/]")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except RecursionError:  # a backstop: every reader turns deep nesting into its own error
            render.error(UsageError("the input is nested too deeply to read", hint=_DEEP_HINT))
            raise typer.Exit(EXIT_USAGE) from None
        except BrokenPipeError:
            _pipe_closed.append(True)
            _quiet_stdout()  # the reader (`| head`) took what it wanted: not a failure
            raise typer.Exit(EXIT_OK) from None
        except Exception as exc:
            if _is_cli_signal(exc) or os.environ.get("MAS_DEBUG"):
                raise
            render.internal_error(exc)
            raise typer.Exit(EXIT_FAILURE) from None


_DEEP_HINT = "flatten the JSON or YAML given to mas; nesting a thousand levels deep is not data"


_pipe_closed: list[bool] = []  # set when stdout's reader went away before we were done


def _on_broken_pipe(console: Console) -> None:
    """Rich exits 1 on a closed pipe; ours (and Typer's help) hand it to `main`, which exits 0."""
    console.quiet = True
    _pipe_closed.append(True)
    raise BrokenPipeError


Console.on_broken_pipe = _on_broken_pipe  # type: ignore[method-assign,assignment]


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so flushing at exit does not raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _is_cli_signal(exc: Exception) -> bool:
    """Exit, Abort and usage errors belong to the CLI framework, which prints them itself."""
    return isinstance(exc, typer.Exit | typer.Abort) or type(exc).__module__.startswith(
        ("typer", "click")
    )


helptext.install()

app = typer.Typer(
    name="mas",
    cls=_Boundary,
    help="Run multi-agent LLM crews with guard rails, and triage what they leave behind.",
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


app.command("init")(init_cmd.init)
app.command("run")(run_cmd.run)
app.add_typer(runs_cmd.app, name="runs")
app.command("show")(runs_cmd.show)
app.command("validate")(validate_cmd.validate)
app.add_typer(triage_cmd.app, name="triage")
app.command("cost-report")(cost_cmd.cost_report)
app.command("tool-test")(tooltest_cmd.tool_test)
app.add_typer(cache_cmd.app, name="cache")
app.command("batch")(batch_cmd.batch)
app.command("resume")(batch_cmd.resume)  # batches; the run half of `mas resume` joins it


_ASCII = {
    "✓": "ok",
    "✗": "x",
    "▶": ">",
    "■": "#",
    "·": "-",
    "—": "-",
    "─": "-",
    "→": "->",
    "←": "<-",
    "≥": ">=",
    "≤": "<=",
    "…": "...",
    "⚠": "!",
    "│": "|",
    "├": "+",
    "└": "`",
}


def _ascii_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Our symbols as ASCII, anything else as `?`: a stream that cannot take more still reads."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(_ASCII.get(ch, "?") for ch in bad), exc.end


def _degrade_streams() -> None:
    """Where stdout or stderr cannot encode our symbols (PYTHONIOENCODING=ascii), degrade."""
    codecs.register_error("mas-ascii", _ascii_fallback)
    for stream in (sys.stdout, sys.stderr):
        try:
            "✓─".encode(stream.encoding or "ascii")
        except (UnicodeEncodeError, LookupError):
            if isinstance(stream, io.TextIOWrapper):
                stream.reconfigure(errors="mas-ascii")


def main() -> int:
    """Console-script entry point."""
    _degrade_streams()
    try:
        app(prog_name="mas")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else EXIT_FAILURE
    except BrokenPipeError:  # while printing help, outside the command's boundary
        _quiet_stdout()
        return EXIT_OK
    else:
        code = EXIT_OK
    return _flushed(code)


def _flushed(code: int) -> int:
    """Flush stdout here, where a reader that closed the pipe early is not a failure."""
    if _pipe_closed:  # the reader left before the command was done: not a failure
        return EXIT_OK
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()  # the command finished: its own exit code stands
    return code
