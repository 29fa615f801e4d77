"""The messages every command prints the same way on stderr: errors, internal errors, located
problems. Written as render.stderr would (render/plain.py's `eprint`), so a command that fails
to a pipe loads no rich either."""

from __future__ import annotations

from mas_cli.cli.render.plain import eprint, escape
from mas_cli.errors import MasError, Problem
from mas_cli.redact import Secrets


def error(exc: MasError) -> None:
    """A user's mistake or a failure we expected: the message, and how to fix it."""
    for line in _scrubbed(str(exc)).splitlines():
        eprint(f"[red]error:[/] {escape(line)}")


def internal_error(exc: BaseException) -> None:
    """A bug in mas: say so, and how to see the traceback."""
    eprint(f"[red]internal error:[/] {type(exc).__name__}: {escape(_scrubbed(str(exc)))}")
    eprint("This is a bug in mas. Rerun with MAS_DEBUG=1 for the traceback, and report it.")


def _scrubbed(text: str) -> str:
    """An error's text without any secret the environment holds (the run's own sinks scrub
    what the crew adds: its models' key variables and headers)."""
    return Secrets.from_environment().scrub(text)


def problem(p: Problem, level: str) -> None:
    """One located problem, in the file:line:col form editors jump to."""
    colour = "red" if level == "error" else "yellow"
    eprint(f"[{colour}]{level}:[/] {escape(str(p))}")
