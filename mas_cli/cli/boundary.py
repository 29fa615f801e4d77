"""The one error boundary: an exception raised under a command becomes a message on stderr and
an exit code. No Typer here: the Typer app (app.py) and the fast path (fast.py) share it.

Exit codes: 0 ok, 1 failure (or a CI gate tripped), 2 usage or bad input, 3 stopped by a limit,
130 interrupted.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import TYPE_CHECKING

from mas_cli.cli import interrupted
from mas_cli.cli.exits import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from mas_cli.errors import MasError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

_DEEP_HINT = "flatten the JSON or YAML given to mas; nesting a thousand levels deep is not data"

_pipe_closed: list[bool] = []  # set when stdout's reader went away before we were done


def exit_code(exc: BaseException) -> int | None:
    """Say what went wrong on stderr and give the exit code; None for an exception that is not
    ours to report (the CLI framework's own, or any with MAS_DEBUG set): the caller re-raises."""
    from mas_cli.cli import render

    if unwritable(exc):  # stdout's disk is full: said, not a bug
        quiet_stdout()
        exc = unwritable_error(exc)
    if isinstance(exc, MasError):
        render.error(exc)
        return exc.exit_code
    if interrupted(exc):  # a Ctrl-C (or SIGTERM), maybe wrapped by Python in a RuntimeError
        from mas_cli.cli.render.plain import eprint

        eprint("[yellow]interrupted[/]")
        return EXIT_INTERRUPTED
    if isinstance(exc, RecursionError):  # a backstop: every reader turns deep nesting into its own
        render.error(UsageError("the input is nested too deeply to read", hint=_DEEP_HINT))
        return EXIT_USAGE
    if isinstance(exc, BrokenPipeError):
        _pipe_closed.append(True)
        quiet_stdout()  # the reader (`| head`) took what it wanted: not a failure
        return EXIT_OK
    if not isinstance(exc, Exception) or _is_cli_signal(exc) or os.environ.get("MAS_DEBUG"):
        return None
    render.internal_error(exc)
    return EXIT_FAILURE


def _is_cli_signal(exc: Exception) -> bool:
    """Exit, Abort and usage errors belong to the CLI framework, which prints them itself."""
    return type(exc).__module__.startswith(("typer", "click"))


def pipe_closed() -> None:
    """A reader went away before we were done writing: `main` exits 0 (see flushed)."""
    _pipe_closed.append(True)


def _on_broken_pipe(console: Console) -> None:
    """Rich exits 1 on a closed pipe; ours (and Typer's help) hand stdout's to `main`, which
    exits 0. Stderr's reader leaving (`2>&1 | head -1`) neither stops the command nor changes
    its exit code: what it says from then on goes nowhere."""
    console.quiet = True
    if console.stderr:
        stderr_closed()
        return
    pipe_closed()
    raise BrokenPipeError


def stderr_closed() -> None:
    """Stderr's reader went away: point it at /dev/null, so later messages and the flush at
    exit (which would exit 120) do not fail, and go on."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stderr.fileno())
    os.close(devnull)


def patch_rich() -> None:
    """Make every rich console hand a closed pipe to `main` (see _on_broken_pipe). Called where
    rich is loaded to draw (render/base.py, the Typer app): a command that draws nothing with
    rich (a run writing to a pipe) does not load it."""
    from rich.console import Console

    Console.on_broken_pipe = _on_broken_pipe  # type: ignore[method-assign,assignment]


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


def unwritable(exc: BaseException) -> bool:
    """A write with no file named (standard output: `mas runs > /dev/full`) the disk refused.
    Files mas opens itself say which they are in their own errors."""
    return isinstance(exc, OSError) and exc.errno in _FULL and exc.filename is None


def unwritable_error(exc: BaseException) -> MasError:
    why = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else str(exc)
    return MasError(
        f"cannot write the output: {why[:1].lower()}{why[1:]}",
        hint="free some space where it goes, or send it elsewhere",
    )


def quiet_stdout() -> None:
    """Point stdout at /dev/null, so flushing at exit does not raise again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def flushed(code: int) -> int:
    """Flush stdout here, where a reader that closed the pipe early is not a failure."""
    if _pipe_closed:  # the reader left before the command was done: not a failure
        return EXIT_OK
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_stdout()  # the command finished: its own exit code stands
    return code
