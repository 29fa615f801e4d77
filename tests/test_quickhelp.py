"""`mas --help` without Typer prints what Typer prints, byte for byte, wherever it is printed.

The fast path (cli/quickhelp.py) lists the commands of cli/commands.py's table; app.py
registers the same table with Typer. A command registered in app.py outside the table, an
edited option, or a Typer upgrade that draws the help differently makes these tests fail.
"""

from __future__ import annotations

import errno
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from concurrent.futures import ThreadPoolExecutor

import pytest

TYPER_HELP = (
    "import sys; sys.argv = ['mas', *sys.argv[1:]]; "
    "from mas_cli.cli.app import main; sys.exit(main())"
)
FAST_HELP = (
    "import sys; sys.argv = ['mas', *sys.argv[1:]]; from mas_cli.cli import main; sys.exit(main())"
)
HIDDEN = ("FORCE_COLOR", "NO_COLOR", "PY_COLORS", "TERMINAL_WIDTH", "COLORTERM", "TERM")
# (environment, flag): widths from cramped to wide, colour forced in each colour system,
# colour refused, a stream that cannot take Unicode, Typer's own width variable.
CASES = [
    *(({"COLUMNS": str(w)}, "--help") for w in (20, 41, 57, 80, 99, 143, 240)),
    ({"COLUMNS": "72", "FORCE_COLOR": "1", "TERM": "xterm"}, "--help"),
    ({"COLUMNS": "72", "FORCE_COLOR": "1", "TERM": "xterm-256color"}, "-h"),
    ({"COLUMNS": "64", "FORCE_COLOR": "1", "COLORTERM": "truecolor"}, "--help"),
    ({"COLUMNS": "90", "FORCE_COLOR": "1", "NO_COLOR": "1"}, "--help"),
    ({"COLUMNS": "66", "PYTHONIOENCODING": "ascii"}, "--help"),
    ({"TERMINAL_WIDTH": "70", "PY_COLORS": "1"}, "-h"),
]


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (*HIDDEN, "COLUMNS", "LINES")}
    return {**env, **extra}


def _piped(code: str, flag: str, extra: dict[str, str]) -> tuple[int, bytes, bytes]:
    done = subprocess.run(
        [sys.executable, "-c", code, flag], capture_output=True, env=_env(extra), check=False
    )
    return done.returncode, done.stdout, done.stderr


def _both(case: tuple[dict[str, str], str]) -> tuple[tuple[int, bytes, bytes], ...]:
    extra, flag = case
    return _piped(TYPER_HELP, flag, extra), _piped(FAST_HELP, flag, extra)


def test_fast_help_is_typers_help_byte_for_byte() -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(_both, CASES))
    for case, (typer, fast) in zip(CASES, results, strict=True):
        assert (typer[0], b"Commands" in typer[1]) == (0, True), (case, typer)  # the probe works
        assert fast == typer, (case, fast[1].decode(errors="replace"))


def _in_terminal(code: str, rows: int, cols: int) -> bytes:
    """What `code --help` writes to a real terminal of rows x cols (colour, its own width)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = _env({"TERM": "xterm-256color"})
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--help"], stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError as exc:  # EIO: the terminal's other end closed
            if exc.errno != errno.EIO:
                raise
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait() == 0
    return b"".join(chunks)


@pytest.mark.parametrize("cols", [50, 118])
def test_fast_help_is_typers_help_in_a_terminal(cols: int) -> None:
    typer = _in_terminal(TYPER_HELP, 40, cols)
    assert b"\x1b[" in typer  # colour: the probe works
    assert b"Commands" in typer
    assert _in_terminal(FAST_HELP, 40, cols) == typer


def test_every_registered_command_comes_from_the_table() -> None:
    """A command added to app.py beside the table would be missing from the fast help."""
    import typer

    from mas_cli.cli import app
    from mas_cli.cli.commands import COMMANDS

    group = typer.main.get_command(app)
    assert sorted(group.commands) == sorted(c.name for c in COMMANDS), (
        "register new commands in mas_cli/cli/commands.py's COMMANDS, not in app.py"
    )


def test_the_runner_sees_a_command_registered_after_its_first_call() -> None:
    """tests/conftest.py keeps the Click command CliRunner builds from an app: a command added
    to the app afterwards, or to one of its groups, must still be found."""
    import typer
    from typer.testing import CliRunner

    app, group = typer.Typer(), typer.Typer()
    app.command("one")(lambda: typer.echo("one"))
    app.command("two")(lambda: typer.echo("two"))
    assert CliRunner().invoke(app, ["one"]).stdout == "one\n"
    app.command("three")(lambda: typer.echo("three"))
    assert CliRunner().invoke(app, ["three"]).stdout == "three\n"
    app.add_typer(group, name="g")
    group.command("four")(lambda: typer.echo("four"))
    group.command("five")(lambda: typer.echo("five"))
    assert CliRunner().invoke(app, ["g", "four"]).stdout == "four\n"
    group.command("six")(lambda: typer.echo("six"))
    assert CliRunner().invoke(app, ["g", "six"]).stdout == "six\n"


def test_fast_help_through_a_closed_pipe_exits_zero() -> None:
    """A reader gone before the first byte (`mas --help | head -0`) is not a failure."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    done = subprocess.run(
        [sys.executable, "-m", "mas_cli", "--help"],
        stdout=write_end,
        stderr=subprocess.PIPE,
        env=_env({"COLUMNS": "80"}),
        check=False,
    )
    os.close(write_end)
    assert (done.returncode, done.stderr) == (0, b"")
