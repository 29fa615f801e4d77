"""Tables that fit the terminal: the cheap bound (`_surely_fits`) never says a table fits when
measuring its cells says it does not, so skipping the measurement changes no output."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table

from mas_cli.cli.render import fit

PIECES = st.sampled_from(
    ["a", "run", "1,249", "$0.002065", "[green]ok[/]", "[bold red]x[/]", "\\[", "[", "]",
     ":smile:", ":a:", "界", "é", "\u200d", "\t", "\n", "[link=http://x]y[/link]", " ", "-"]
)  # fmt: skip
CELL = st.lists(PIECES, max_size=8).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.lists(CELL, min_size=3, max_size=3), max_size=6),
    width=st.integers(10, 120),
)
def test_the_bound_never_says_fits_when_the_cells_do_not(rows: list[list[str]], width: int) -> None:
    console = Console(width=width, file=None, force_terminal=False)
    table = Table(box=None, pad_edge=False)
    for name in ("one", "two", "three"):
        table.add_column(name)
    for row in rows:
        table.add_row(*row)
    measured = [fit._column_width(console, column) for column in table.columns]
    if fit._surely_fits(console, table):
        assert sum(measured) + fit.GAP * (len(measured) - 1) <= width


def test_a_table_too_wide_is_still_folded() -> None:
    console = Console(width=30, record=True, file=None, force_terminal=False)
    table = Table(box=None, pad_edge=False)
    for name in ("run", "crew", "status"):
        table.add_column(name)
    table.add_row("20261206T074022321-a66709", "[green]fraud-review[/]", "ok")
    assert not fit._surely_fits(console, table)
    assert len(fit._groups(console, table)) == 2


def test_a_control_character_in_a_cell_is_shown_whole_not_cut() -> None:
    """The console shows ESC as `\\x1b` after the layout: the column is as wide as that."""
    from mas_cli.cli.render.base import SafeConsole

    console = SafeConsole(width=80, record=True, file=None, force_terminal=False)
    table = Table(box=None, pad_edge=False)
    for name in ("agent", "calls"):
        table.add_column(name)
    table.add_row("ag\x1b[2Jent\u202e", "5")
    fit.print_rich(console, table)
    assert "ag\\x1b[2Jent\\u202e  5" in console.export_text()
