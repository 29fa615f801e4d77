"""Tables and trees of our own, built without rich, laid out without it where its bytes are known.

A `Grid` is the one shape of table mas prints (no box, no edge padding, columns justified left
or right, maybe a style per column or row); a `Branch` is a tree of markup labels. `table_lines`
and `tree_lines` give the exact text rich writes for them to a stream that is no terminal, when
every cell fits its line whole and every character has a width known here (rich's own widths);
otherwise None, and render/fit.py builds the rich Table or Tree and draws it as before.
tests/test_render_grid.py holds the two to the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from msgspec import Struct, field

from mas_cli.cli.render.plain import cell_text, label_text

Justify = Literal["left", "right"]

# rich.cells: the characters rich counts one cell wide without a table (_SINGLE_CELL_UNICODE_RANGES)
_NARROW_RANGES = ((0x20, 0x7E), (0xA0, 0xAC), (0xAE, 0x2FF), (0x370, 0x482), (0x2500, 0x25FC),
                  (0x2800, 0x28FF))  # fmt: skip
_NARROW = frozenset(
    [chr(c) for start, end in _NARROW_RANGES for c in range(start, end + 1)] + list("→←≥≤✓✗…—")
)
# two cells wide in every Unicode version rich knows: kana, CJK ideographs, Hangul syllables
_WIDE_RANGES = ((0x3041, 0x3096), (0x30A1, 0x30FA), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3))
_TRAILING_BLANKS = re.compile(r"[ \t]+(?=\n)")
_WORD = re.compile(r"\s*\S+\s*")  # rich._wrap.re_word: a word and the blanks after it

GUIDES = ("    ", "│   ", "├── ", "└── ")  # rich.tree.Tree.TREE_GUIDES[0]
ASCII_GUIDES = ("    ", "|   ", "+-- ", "`-- ")  # drawn when the stream's encoding is not utf
SPACE, CONTINUE, FORK, END = range(4)


class GridColumn(Struct, frozen=True):
    """A column: its header (markup), justification, wrapping and style."""

    header: str
    justify: Justify = "left"
    no_wrap: bool = False
    style: str | None = None


class Grid(Struct):
    """A table as rich's `Table(box=None, pad_edge=False)` draws it; rows of markup."""

    header_style: str | None = "table.header"  # rich's default
    columns: list[GridColumn] = field(default_factory=list)
    rows: list[tuple[list[str], str | None]] = field(default_factory=list)

    def add_column(
        self,
        header: str,
        *,
        justify: Justify = "left",
        no_wrap: bool = False,
        style: str | None = None,
    ) -> None:
        """A column, as rich's Table.add_column."""
        self.columns.append(GridColumn(header, justify, no_wrap, style))

    def add_row(self, *cells: str, style: str | None = None) -> None:
        """A row of markup cells (missing ones empty), as rich's Table.add_row."""
        if len(cells) > len(self.columns):
            raise ValueError(f"a row of {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(([*cells, *[""] * (len(self.columns) - len(cells))], style))


class Branch(Struct):
    """A tree node: a label of markup and the branches under it, as rich's Tree."""

    label: str
    children: list[Branch] = field(default_factory=list)

    def add(self, label: str) -> Branch:
        """A child branch, returned to add to."""
        child = Branch(label)
        self.children.append(child)
        return child


def width_of(text: str) -> int | None:
    """The cells `text` takes as rich counts them; None for a character not known here."""
    if _NARROW.issuperset(text):
        return len(text)
    cells = 0
    for char in text:
        if char in _NARROW:
            cells += 1
        elif any(start <= ord(char) <= end for start, end in _WIDE_RANGES):
            cells += 2
        else:
            return None
    return cells


def _measured(
    markup: str, text_of: Callable[[str], str | None] = cell_text
) -> tuple[str, int] | None:
    """A cell's text and width, or None when rich alone can tell them (a line break, a tab)."""
    text = text_of(markup)
    if text is None or "\n" in text or "\t" in text:
        return None
    cells = width_of(text)
    return None if cells is None else (text, cells)


def table_lines(grid: Grid, width: int) -> str | None:
    """What rich writes for `grid` on a console `width` wide that is no terminal, or None."""
    last = len(grid.columns) - 1
    if last < 0:
        return None
    rows = [[c.header for c in grid.columns], *(cells for cells, _ in grid.rows)]
    pads = [(i > 0) + (i < last) for i in range(last + 1)]
    lines = _laid_out(rows, [c.justify for c in grid.columns], pads, width)
    return None if lines is None else _TRAILING_BLANKS.sub("", "\n".join(lines) + "\n")


def grid_lines(rows: list[list[str]], width: int) -> list[str] | None:
    """The lines rich draws for `Table.grid(padding=(0, 2))` holding these rows of markup (a
    short row is padded with empty cells) in `width` cells; None when it would wrap a cell, or
    rich alone can measure one. Lines keep their trailing blanks (the caller strips them)."""
    columns = max((len(row) for row in rows), default=0)
    if not columns:
        return None
    # padding collapsed between columns, none at the edges: 2 cells after each column but the last
    pads = [2] * (columns - 1) + [0]
    full = [[*row, *[""] * (columns - len(row))] for row in rows]
    return _laid_out(full, ["left"] * columns, pads, width)


def _laid_out(
    rows: list[list[str]], justify: list[Justify], pads: list[int], width: int
) -> list[str] | None:
    """Rows of markup cells as rich lays them out, two cells between columns (`pads`: the
    padding rich counts in each column); None when they do not fit in `width` whole."""
    measured = [[_measured(cell) for cell in row] for row in rows]
    if any(cell is None for row in measured for cell in row):
        return None
    cells = [[cell for cell in row if cell is not None] for row in measured]
    widths = [max(row[i][1] for row in cells) for i in range(len(pads))]
    widths = [w if w + p else 1 for w, p in zip(widths, pads, strict=True)]  # rich's `or 1`
    if sum(widths) + sum(pads) > width:
        return None  # rich would wrap or fold it
    return [
        "  ".join(_fitted(*cell, w, j) for cell, w, j in zip(row, widths, justify, strict=True))
        for row in cells
    ]


def wrapped_lines(markup: str, width: int) -> list[str] | None:
    """The lines rich wraps a table cell of markup into, `width` cells wide: at the spaces, a
    word at a time (rich's `divide_line`); None when a word is wider than that (rich would cut
    it) or rich alone can measure the text."""
    measured = _measured(markup)
    if measured is None:
        return None
    lines, line, used = [], "", 0
    for word in _WORD.findall(measured[0]) or [measured[0]]:  # blanks alone: one line of them
        size = width_of(word.rstrip()) or 0
        if size > width:
            return None
        if used and width - used < size:
            lines.append(line)
            line, used = "", 0
        line += word
        used += width_of(word) or 0
    kept = []
    for text in [*lines, line]:
        cropped = _cropped(text, width)
        if cropped is None:
            return None
        kept.append(cropped)
    return kept


def _cropped(line: str, width: int) -> str | None:
    """A wrapped line as rich keeps it (Text.rstrip_end: trailing blanks past `width` dropped,
    counted in characters, not cells); None when it is still too wide (rich would cut it)."""
    excess = len(line) - width
    if excess > 0:
        blanks = len(line) - len(line.rstrip())
        line = line[: len(line) - min(blanks, excess)]
    return line if (width_of(line) or 0) <= width else None


def _fitted(text: str, cells: int, width: int, justify: Justify) -> str:
    """The cell padded to its column, as rich's Lines.justify does it."""
    if justify == "right":
        text = text.rstrip()
        return " " * (width - (width_of(text) or 0)) + text
    return text + " " * (width - cells)


def tree_lines(root: Branch, width: int, *, ascii_only: bool = False) -> str | None:
    """What rich writes for the tree (`soft_wrap=False`) on a console `width` wide that is no
    terminal, or None when a label would wrap or rich alone can measure it."""
    guides = ASCII_GUIDES if ascii_only else GUIDES
    lines: list[str] = []
    if not _branch_lines(root, [], guides, width, lines):
        return None
    return _TRAILING_BLANKS.sub("", "\n".join(lines) + "\n")


def _branch_lines(
    node: Branch, prefix: list[int], guides: tuple[str, ...], width: int, lines: list[str]
) -> bool:
    measured = _measured(node.label, label_text)
    room = width - 4 * len(prefix)
    if measured is None or room < 1 or measured[1] > room:
        return False
    lines.append("".join(guides[g] for g in prefix) + measured[0])
    above = [{FORK: CONTINUE, END: SPACE}.get(g, g) for g in prefix]  # the lines go on
    for i, child in enumerate(node.children):
        guide = END if i == len(node.children) - 1 else FORK
        if not _branch_lines(child, [*above, guide], guides, width, lines):
            return False
    return True
