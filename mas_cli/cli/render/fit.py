"""Tables that fit the terminal: a table too wide for it is folded, never cut.

Folding splits the columns into groups that fit, each printed as its own table with the first
column (the row's name: a run id, an agent) repeated, so every value is shown whole.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.cells import cell_len
from rich.console import Console
from rich.table import Column, Table

from mas_cli.cli.render.safe import safe

GAP = 2  # box=None tables put one space of padding on each side of a column


def print_table(console: Console, table: Table) -> None:
    """Print `table` whole: as it is when it fits, else folded into groups of columns."""
    table = _escaped(table)
    groups = _groups(console, table)
    for i, group in enumerate(groups):
        if i:
            console.print()
        console.print(table if len(groups) == 1 else _part(table, group))


def _groups(console: Console, table: Table) -> list[list[int]]:
    if _surely_fits(console, table):
        return [list(range(len(table.columns)))]
    widths = [_column_width(console, col) for col in table.columns]
    groups: list[list[int]] = [[0]]
    used = widths[0] if widths else 0
    for i in range(1, len(widths)):
        if used + GAP + widths[i] > console.width and len(groups[-1]) > 1:
            groups.append([0])
            used = widths[0]
        groups[-1].append(i)
        used += GAP + widths[i]
    return groups


def _surely_fits(console: Console, table: Table) -> bool:
    """Whether the table fits by an upper bound of its width, without rendering a cell: a
    cell of text is at most as wide as its markup's source (tags and escapes only shorten it).
    A tab, a control character or a cell that is not text is measured instead."""
    bound = GAP * (len(table.columns) - 1)
    for column in table.columns:
        widest = 0
        for cell in (column.header, *column.cells):
            if not isinstance(cell, str) or not cell.isprintable():
                return False
            widest = max(widest, cell_len(cell))
        bound += widest
    return bound <= console.width


def _column_width(console: Console, column: Column) -> int:
    cells = [column.header, *column.cells]
    return max(console.measure(cell).maximum for cell in cells if cell is not None)


def _escaped(table: Table) -> Table:
    """The table with the control characters of its cells shown as escapes already: the
    console escapes what it draws only after the layout, so a column measured on the raw
    text would cut the escape (`ag\\x1b[2Jent` shown as `ag\\x1`)."""
    cells = (cell for column in table.columns for cell in (column.header, *column.cells))
    if all(not isinstance(cell, str) or safe(cell) == cell for cell in cells):
        return table
    return _part(table, list(range(len(table.columns))), safe)


def _part(table: Table, group: list[int], text: Callable[[str], str] = str) -> Table:
    part = Table(box=None, header_style=table.header_style, pad_edge=False)
    for i in group:
        col = table.columns[i]
        header = text(col.header) if isinstance(col.header, str) else col.header
        part.add_column(header, justify=col.justify, style=col.style, no_wrap=col.no_wrap)
    cells = [[text(c) if isinstance(c, str) else c for c in table.columns[i].cells] for i in group]
    for r, row in enumerate(table.rows):
        part.add_row(*(column[r] for column in cells), style=row.style)
    return part
