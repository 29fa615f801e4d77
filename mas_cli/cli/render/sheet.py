"""One table, four formats: a rich table, Markdown, CSV (raw numbers) for the same rows.

Cells are typed values; each format decides how to show them. Notes (what a reader must know
before trusting the figures) follow a table or Markdown, and go to stderr with CSV.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from rich.markup import escape
from rich.table import Table

from mas_cli.cli.render.base import stderr, stdout
from mas_cli.cli.render.safe import safe

Kind = Literal["text", "int", "usd", "usd_change", "pct", "share", "seconds", "bar"]


@dataclass(frozen=True)
class Cost:
    """A cost cell: the known part, and whether every call in it had a price."""

    known: Decimal
    complete: bool = True


CENT = Decimal("0.01")
Cell = str | int | float | Decimal | Cost | None


@dataclass(frozen=True)
class Column:
    """A column's name and what kind of value it holds."""

    name: str
    kind: Kind = "int"


@dataclass
class Sheet:
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


def usd(value: Decimal | None, *, signed: bool = False) -> str:
    """$0.002065, $0.0413, $12.50: enough digits to see small costs; None is `unknown`."""
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    sign = ("+" if value > 0 else "-" if value < 0 else "") if signed else "-" * (value < 0)
    size = abs(value)
    cents = size == size.quantize(CENT)
    places = 2 if size >= 1 or cents else 4 if size >= CENT else 6
    return f"{sign}${size:,.{places}f}"


def human(value: Cell, kind: Kind) -> str:
    """A cell for people."""
    if kind == "bar" or value == "":
        return str(value or "")
    if value is None:
        return "-"
    if isinstance(value, Cost):
        return _cost(value)
    if isinstance(value, Decimal | float) and kind in _NUMBER_FORMATS:
        return _NUMBER_FORMATS[kind](value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


_NUMBER_FORMATS: dict[str, Callable[[Decimal | float], str]] = {
    "usd": lambda v: usd(Decimal(str(v))),
    "usd_change": lambda v: usd(Decimal(str(v)), signed=True),
    "pct": lambda v: f"{v:+.1f}%",
    "share": lambda v: f"{v:.1f}%",
    "seconds": lambda v: f"{v:.2f}s",
}


def _cost(value: Cost) -> str:
    if value.complete:
        return usd(value.known)
    return f"≥{usd(value.known)}" if value.known else "unknown"


def raw(value: Cell) -> str:
    """A cell for machines: exact numbers, empty when unknown."""
    if value is None:
        return ""
    if isinstance(value, Cost):
        return str(value.known) if value.complete else ""
    return str(value)


def _table(sheet: Sheet) -> None:
    table = Table(box=None, header_style="bold", pad_edge=False, title_justify="left")
    for col in sheet.columns:
        table.add_column(col.name, justify="left" if col.kind in ("text", "bar") else "right")
    for row in sheet.rows:
        table.add_row(*_human_row(sheet, row))
    if sheet.total is not None:
        table.add_row(*_human_row(sheet, sheet.total), style="bold")
    stdout.print(f"[bold]{escape(sheet.title)}[/]")
    stdout.print(table)
    for line in sheet.info:
        stdout.print(escape(line))
    for note in sheet.notes:
        stdout.print(f"[yellow]! {escape(note)}[/]")


def _human_row(sheet: Sheet, row: list[Cell]) -> list[str]:
    return [escape(human(v, c.kind)) for v, c in zip(row, sheet.columns, strict=True)]


def _markdown(sheet: Sheet) -> None:
    lines = [f"### {sheet.title}", "", "| " + " | ".join(c.name for c in sheet.columns) + " |"]
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
        writer.writerow([_safe_cell(raw(row[i])) for i in keep])
    for note in sheet.notes:
        stderr.print(f"[yellow]! {escape(note)}[/]")


def _safe_cell(value: Any) -> Any:
    return safe(value) if isinstance(value, str) else value
