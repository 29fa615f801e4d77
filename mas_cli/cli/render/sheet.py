"""One table, four formats: a table, Markdown, CSV (raw numbers) for the same rows.

Cells are typed values; each format decides how to show them. Notes (what a reader must know
before trusting the figures) follow a table or Markdown, and go to stderr with CSV.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal

from msgspec import Struct, field

from mas_cli.cli.render.fit import print_line, print_table
from mas_cli.cli.render.grid import Grid
from mas_cli.cli.render.plain import eprint, escape, usd, usd_places
from mas_cli.cli.render.safe import one_line, safe

Kind = Literal["text", "int", "usd", "usd_change", "pct", "share", "seconds", "bar"]


class Cost(Struct, frozen=True):
    """A cost cell: the known part, and whether every call in it had a price."""

    known: Decimal
    complete: bool = True


Cell = str | int | float | Decimal | Cost | None


class Column(Struct, frozen=True):
    """A column's name and what kind of value it holds."""

    name: str
    kind: Kind = "int"


class Sheet(Struct):
    """A titled table with an optional total row and notes."""

    title: str
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)
    total: list[Cell] | None = None
    notes: list[str] = field(default_factory=list)
    """Warnings about the figures."""
    info: list[str] = field(default_factory=list)
    """Plain lines after the table."""


def emit(sheet: Sheet, fmt: str) -> None:
    """Print the sheet in `table`, `md` or `csv`."""
    {"md": _markdown, "csv": _csv}.get(fmt, _table)(sheet)


def column_places(values: list[Decimal | None]) -> int | None:
    """One rule for a column of amounts: the decimals its smallest non-zero amount needs."""
    return max((usd_places(v) for v in values if v), default=None)


def human(value: Cell, kind: Kind, places: int | None = None) -> str:
    """A cell for people; `places` fixes the decimals of an amount in dollars."""
    if kind == "bar" or value == "":
        return str(value or "")
    if value is None:
        return "-"
    if isinstance(value, Cost):
        return _cost(value, places)
    if isinstance(value, Decimal | float) and kind in _NUMBER_FORMATS:
        return _number(value, kind, places)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return one_line(str(value))


def _number(value: Decimal | float, kind: str, places: int | None) -> str:
    if kind in ("usd", "usd_change"):
        return usd(Decimal(str(value)), signed=kind == "usd_change", places=places)
    return _NUMBER_FORMATS[kind](value)


_NUMBER_FORMATS: dict[str, Callable[[Decimal | float], str]] = {
    "usd": str,  # by _number, with the column's decimals
    "usd_change": str,
    "pct": lambda v: f"{v:+.1f}%",
    "share": lambda v: f"{v:.1f}%",
    "seconds": lambda v: f"{v:.2f}s",
}


def _cost(value: Cost, places: int | None = None) -> str:
    if value.complete:
        return usd(value.known, places=places)
    return f"≥{usd(value.known, places=places)}" if value.known else "unknown"


def raw(value: Cell, kind: Kind = "text") -> str:
    """A cell for machines: exact amounts, percentages to 2 decimals, empty when unknown."""
    if value is None:
        return ""
    if isinstance(value, Cost):
        return str(value.known) if value.complete else ""
    if kind in ("share", "pct") and isinstance(value, Decimal | float):
        return f"{value:.2f}"
    return str(value)


def _table(sheet: Sheet) -> None:
    table = Grid(header_style="bold")
    for col in sheet.columns:
        table.add_column(col.name, justify="left" if col.kind in ("text", "bar") else "right")
    for row in sheet.rows:
        table.add_row(*_human_row(sheet, row))
    if sheet.total is not None:
        table.add_row(*_human_row(sheet, sheet.total), style="bold")
    print_line(f"[bold]{escape(one_line(sheet.title))}[/]", wrap=True)  # wrapped at words
    print_table(table)
    for line in sheet.info:
        print_line(escape(line), wrap=True)
    for note in sheet.notes:
        print_line(f"[yellow]! {escape(note)}[/]", wrap=True)


def _human_row(sheet: Sheet, row: list[Cell]) -> list[str]:
    places = _places(sheet)
    return [escape(human(v, c.kind, p)) for v, c, p in zip(row, sheet.columns, places, strict=True)]


def _places(sheet: Sheet) -> list[int | None]:
    """The decimals of each money column, from all its rows and the total."""
    rows = [*sheet.rows, *([sheet.total] if sheet.total is not None else [])]
    return [
        column_places([_amount(row[i]) for row in rows])
        if c.kind in ("usd", "usd_change")
        else None
        for i, c in enumerate(sheet.columns)
    ]


def _amount(cell: Cell) -> Decimal | None:
    if isinstance(cell, Cost):
        return cell.known
    return Decimal(str(cell)) if isinstance(cell, Decimal | float | int) else None


def _markdown(sheet: Sheet) -> None:
    title = one_line(sheet.title)
    lines = [f"### {title}", "", "| " + " | ".join(c.name for c in sheet.columns) + " |"]
    lines.append(
        "|" + "|".join(":---" if c.kind in ("text", "bar") else "---:" for c in sheet.columns) + "|"
    )
    rows = [*sheet.rows, *([sheet.total] if sheet.total is not None else [])]
    for i, row in enumerate(rows):
        cells = [
            human(v, c.kind).replace("|", "\\|") for v, c in zip(row, sheet.columns, strict=True)
        ]
        if sheet.total is not None and i == len(rows) - 1:
            cells = [f"**{c}**" if c != "-" else c for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *sheet.info, "", *(f"> ⚠ {note}" for note in sheet.notes)]
    sys.stdout.write(safe("\n".join(lines).rstrip()) + "\n")


def _csv(sheet: Sheet) -> None:
    keep = [i for i, c in enumerate(sheet.columns) if c.kind != "bar"]
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([safe(sheet.columns[i].name) for i in keep])
    for row in [*sheet.rows, *([sheet.total] if sheet.total is not None else [])]:
        writer.writerow([_safe_cell(raw(row[i], sheet.columns[i].kind)) for i in keep])
    for note in sheet.notes:
        eprint(f"[yellow]! {escape(note)}[/]")


def _safe_cell(value: Any) -> Any:
    return safe(value) if isinstance(value, str) else value
