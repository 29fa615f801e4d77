"""Tables, trees and lines on stdout: written plainly where rich's bytes are known, else drawn by
rich; a table too wide for the terminal is folded, never cut.

To a stream that is no terminal, render/grid.py lays a table or a tree out as rich would and
render/plain.py reads the markup, so the read-only commands never import rich (it is a third
of their start-up). In a terminal, or for anything they cannot match exactly, rich draws it.
Folding splits the columns into groups that fit, each printed as its own table with the first
column (the row's name: a run id, an agent) repeated, so every value is shown whole.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from mas_cli.cli.render.grid import Branch, Grid, table_lines, tree_lines, width_of
from mas_cli.cli.render.plain import drawn, label_text, plain_stdout
from mas_cli.cli.render.safe import safe

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Column, Table
    from rich.tree import Tree

GAP = 2  # box=None tables put one space of padding on each side of a column


def print_table(grid: Grid) -> None:
    """Print the table on stdout whole: as it is when it fits, else folded (see print_rich)."""
    at = plain_stdout()
    text = table_lines(grid, at[0]) if at else None
    if text is not None:
        write_out(text)
        return
    from mas_cli.cli.render.base import stdout

    print_rich(stdout, rich_table(grid))


def print_tree(root: Branch) -> None:
    """Print the tree on stdout; a long label wraps under its branch, never cut."""
    at = plain_stdout()
    text = tree_lines(root, at[0], ascii_only=at[1]) if at else None
    if text is not None:
        write_out(text)
        return
    from mas_cli.cli.render.base import stdout

    stdout.print(rich_tree(root), soft_wrap=False)


def print_line(markup: str, *, wrap: bool = False) -> None:
    """Print markup on stdout as `render.stdout.print(markup)` does; with `wrap`, as
    `render.stdout.print(markup, soft_wrap=False)` (lines wrapped at words to the width)."""
    at = plain_stdout()
    text = drawn(markup) if at else None
    if text is not None and at and wrap and not _fits(markup, at[0]):
        text = None
    if text is not None:
        write_out(text)
        return
    from mas_cli.cli.render.base import stdout

    stdout.print(markup, soft_wrap=not wrap)


def _fits(markup: str, width: int) -> bool:
    shown = label_text(markup) or ""
    return all(
        (cells := width_of(line)) is not None and cells <= width for line in shown.split("\n")
    )


def write_out(text: str) -> None:
    """Written and flushed, as rich's console does (a closed pipe raises BrokenPipeError, which
    the boundary takes as the reader leaving)."""
    sys.stdout.write(text)
    sys.stdout.flush()


def rich_table(grid: Grid) -> Table:
    """The rich Table of the grid."""
    from rich.table import Table

    table = Table(box=None, header_style=grid.header_style, pad_edge=False)
    for col in grid.columns:
        table.add_column(col.header, justify=col.justify, no_wrap=col.no_wrap, style=col.style)
    for cells, style in grid.rows:
        table.add_row(*cells, style=style)
    return table


def rich_tree(root: Branch) -> Tree:
    """The rich Tree of the branches."""
    from rich.tree import Tree

    def grow(tree: Tree, branch: Branch) -> Tree:
        for child in branch.children:
            grow(tree.add(child.label), child)
        return tree

    return grow(Tree(root.label), root)


def print_rich(console: Console, table: Table) -> None:
    """Print a rich `table` whole: as it is when it fits, else folded into groups of columns."""
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
    from rich.cells import cell_len

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
    from rich.table import Table

    part = Table(box=None, header_style=table.header_style, pad_edge=False)
    for i in group:
        col = table.columns[i]
        header = text(col.header) if isinstance(col.header, str) else col.header
        part.add_column(header, justify=col.justify, style=col.style, no_wrap=col.no_wrap)
    cells = [[text(c) if isinstance(c, str) else c for c in table.columns[i].cells] for i in group]
    for r, row in enumerate(table.rows):
        part.add_row(*(column[r] for column in cells), style=row.style)
    return part
