"""The `mas` command line. Thin: parse, call the core, render. Nothing imports this package.

`main` answers `mas --version` before Typer and rich load, `mas --help` before Typer loads
(cli/quickhelp.py, from the command table in cli/commands.py), and the read-only commands
without Typer when their options parse plainly (cli/fast.py); `app` is imported on first use.
"""

from __future__ import annotations

import os
import sys
import types
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from mas_cli.cli.app import app

__all__ = ["app", "entry", "main"]


def entry() -> NoReturn:
    """The `mas` program (console script and `python -m mas_cli`): `main`, then its exit.

    The command is done and its files are closed when `main` returns, and a Ctrl-C from then
    on would land in the interpreter's exit, where no handler of ours can answer it (a
    traceback, or a death by signal that looks like a failure): it ends the process with 130.
    One that lands after the command's own error boundary, before that handler is in place,
    is caught here and ends it the same way.
    """
    import signal

    from mas_cli import collector

    collector.start()
    # SIGINT ignored from the start (a job a script put in the background) stays ignored.
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    at_exit = signal.SIG_IGN if ignored else _interrupted
    try:
        code = main()
        signal.signal(signal.SIGINT, at_exit)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, at_exit)
        code = 130
    import contextlib  # here, not at the top: `mas --version` loads nothing it does not use

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a reader gone: nothing is left to tell it
            stream.flush()
    collector.skip_final_walk()
    sys.exit(code)


def _interrupted(_sig: int, _frame: object) -> NoReturn:
    os._exit(130)


def main() -> int:
    """The command asked for; its exit code."""
    if sys.argv[1:] == ["--version"]:
        return _version()
    if sys.argv[1:] in (["--help"], ["-h"]):
        return _help()
    from mas_cli.cli import fast

    code = fast.run(sys.argv[1:])
    if code is not None:
        return code
    from mas_cli.cli.app import main as run

    return run()


def _version() -> int:
    from mas_cli import __version__

    try:
        sys.stdout.write(f"mas {__version__}\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `mas --version | true`: the reader left, not a failure
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _help() -> int:
    from mas_cli.cli import quickhelp
    from mas_cli.cli.streams import degrade_streams

    degrade_streams()
    try:
        quickhelp.render()
    except BrokenPipeError:  # `mas --help | head -3`: the reader left, not a failure
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


class _Package(types.ModuleType):
    """`mas_cli.cli.app` is the Typer app, loaded on first use (a submodule shares its name)."""

    @property
    def app(self) -> Any:
        from mas_cli.cli.app import app as typer_app

        return typer_app

    @app.setter
    def app(self, _module: Any) -> None:
        """The import system names the submodule here; the name stays the Typer app's."""


sys.modules[__name__].__class__ = _Package
