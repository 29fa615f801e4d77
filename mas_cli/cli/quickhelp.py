"""`mas --help` without Typer: the same rich layout Typer draws, built from cli/commands.py.

Typer and its click tree cost more than half of `mas --help`; the top-level help needs neither.
This module makes the same rich objects `typer.rich_utils.rich_format_help` makes for the root
app (the usage line, the app's help, the Options and Commands panels, with Typer's theme, styles
and highlighters), so rich lays them out alike at any width, colour system and encoding.
tests/test_quickhelp.py compares the two byte for byte; a command registered in app.py outside
COMMANDS would make them differ.
"""

from __future__ import annotations

import inspect
import os

from rich.align import Align
from rich.columns import Columns
from rich.console import Console, Group
from rich.highlighter import RegexHighlighter
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.theme import Theme

from mas_cli.cli.commands import APP_HELP, listed

USAGE = "Usage: mas [OPTIONS] COMMAND [ARGS]..."
# The root's options as Typer lists them: long form, short form, help.
OPTIONS = (
    ("--version", "", "Print the version and exit."),
    ("--install-completion", "", "Install completion for the current shell."),
    (
        "--show-completion",
        "",
        "Show completion for the current shell, to copy it or customize the installation.",
    ),
    ("--help", "-h", "Show this message and exit."),
)
THEME = {
    "option": "bold cyan",
    "switch": "bold green",
    "negative_option": "bold magenta",
    "negative_switch": "bold red",
    "types": "bold yellow",
    "types_sep": "dim",
    "usage": "yellow",
}


class _Options(RegexHighlighter):
    highlights = [  # noqa: RUF012 (rich reads the class attribute)
        r"(^|\W)(?P<switch>\-\w+)(?![a-zA-Z0-9])",
        r"(^|\W)(?P<option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
        r"(?P<types>\<[^\>]+\>)",
        r"(?P<usage>Usage: )",
    ]


class _Negative(RegexHighlighter):
    highlights = [  # noqa: RUF012
        r"(^|\W)(?P<negative_switch>\-\w+)(?![a-zA-Z0-9])",
        r"(^|\W)(?P<negative_option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
    ]


class _Types(RegexHighlighter):
    highlights = [  # noqa: RUF012
        r"^(?P<types_sep>(\[|<))",
        r"(?P<types_sep>\|)",
        r"(?P<types_sep>(\]|>))(\.\.\.)?$",
    ]


_highlight, _negative, _types = _Options(), _Negative(), _Types()


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """Rich would exit 1; the reader (`| head`) took what it wanted, the caller exits 0."""
        self.quiet = True
        raise BrokenPipeError


def _terminal() -> bool | None:
    """Typer forces a terminal when CI or the user asks for colour, and never when told not to."""
    if os.environ.get("_TYPER_FORCE_DISABLE_TERMINAL"):
        return False
    forced = any(os.environ.get(v) for v in ("GITHUB_ACTIONS", "FORCE_COLOR", "PY_COLORS"))
    return True if forced else None


def _console() -> Console:
    """Typer's help console: its theme, its width (TERMINAL_WIDTH), its colour rules."""
    width = os.environ.get("TERMINAL_WIDTH")
    return _Console(
        theme=Theme(THEME),
        highlighter=_highlight,
        color_system="auto",
        force_terminal=_terminal(),
        width=int(width) if width else None,
    )


def _markup(text: str) -> Text:
    return _highlight(Text.from_markup(inspect.cleandoc(text), style=""))


def _table(highlight: bool) -> Table:
    return Table(
        highlight=highlight, show_header=False, expand=True, box=None, show_lines=False,
        leading=0, border_style=None, row_styles=None, pad_edge=False, padding=(0, 1),
    )  # fmt: skip


def _options_panel() -> Panel:
    table = _table(highlight=True)
    for long, short, help_text in OPTIONS:
        table.add_row(
            _highlight(long), _highlight(short), _negative(""), _negative(""),
            _types(Text(style="bold yellow", overflow="fold")), Columns([_markup(help_text)]),
        )  # fmt: skip
    return Panel(table, border_style="dim", title="Options", title_align="left")


def _commands_panel() -> Panel:
    commands = listed()
    table = _table(highlight=False)
    table.add_column(style="bold cyan", no_wrap=True, width=max(len(c.name) for c in commands))
    table.add_column("Description", justify="left", no_wrap=False, ratio=10)
    for command in commands:
        first = inspect.cleandoc(command.summary).split("\n\n")[0]
        table.add_row(Text(command.name), _markup(first.strip()))
    return Panel(table, border_style="dim", title="Commands", title_align="left")


def render() -> None:
    """Print the root help to stdout as Typer would. Raises BrokenPipeError if the reader left."""
    console = _console()
    console.print(Padding(_highlight(USAGE), 1), style="bold")
    console.print(Padding(Align(Group(_markup(APP_HELP)), pad=False), (0, 1, 1, 1)))
    console.print(_options_panel())
    console.print(_commands_panel())
    print(flush=True)  # click echoes Typer's (empty) help string after the panels
