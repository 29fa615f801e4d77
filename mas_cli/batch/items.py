"""A batch's items, read one at a time from a JSONL or CSV file: memory does not follow the file.

Each line (a JSON object, or a CSV row under the header) is one item: the crew's inputs. It is
keyed by the field `--key` names or, without one, by a digest of its inputs. A line that cannot
be an item (not JSON, not an object, a CSV row with the wrong number of columns, an unknown or
missing crew input) is a `BadLine` naming file:line and why; it never stops the reading. A line
of a dead-letter file (`{"key", "reason", "inputs"}`) is read as the item it records, so a
batch's dead.jsonl can be fed back as it is.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mas_cli.errors import UsageError
from mas_cli.events.text import fix_text, fix_value, loads
from mas_cli.spec.findings import did_you_mean
from mas_cli.spec.models import CrewSpec
from mas_cli.words import json_kind

MAX_LINE_BYTES = 8 << 20  # as `mas run --inputs`: a line larger than this is not read whole
DEAD_FIELDS = frozenset({"key", "reason", "inputs"})


@dataclass(frozen=True)
class Item:
    """One item: its key, its line in the file, and the crew's inputs it gives."""

    key: str
    line: int
    inputs: dict[str, Any]


@dataclass(frozen=True)
class BadLine:
    """A line that is no item: where, why, and what it held (for the dead-letter file)."""

    key: str
    line: int
    reason: str
    inputs: Any


def read_items(
    path: Path, spec: CrewSpec, key_field: str | None = None
) -> Iterator[Item | BadLine]:
    """The file's items in order, each checked against the crew's inputs.

    Raises:
        UsageError: the file cannot be opened, is neither .jsonl nor .csv, or (CSV) has no header.
    """
    records = _csv_records(path) if path.suffix.lower() == ".csv" else _jsonl_records(path)
    kinds = _KeyKinds()
    for line, record in records:
        yield _item(path, line, record, spec, key_field, kinds=kinds)


def item_key(inputs: Any) -> str:
    """The digest that keys an item without a key field: canonical JSON of its inputs."""
    text = json.dumps(inputs, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


class _KeyKinds:
    """Whether the file's first `--key` value was text, and its line. A key of the other kind
    on a later line is refused: 1 and "1" are both the key "1", so two items would be one.
    Memory holds nothing per item."""

    def __init__(self) -> None:
        self.first: tuple[bool, int, Any] | None = None

    def clash(self, value: Any, line: int, key_field: str) -> str | None:
        """Why this key cannot stand beside the first, or None when it can."""
        if self.first is None:
            self.first = (isinstance(value, str), line, value)
        text, first_line, first = self.first
        if isinstance(value, str) == text:
            return None
        return (
            f"{key_field} {json.dumps(value)} is {json_kind(value)}, but on line {first_line} "
            f'it is {json_kind(first)} ({json.dumps(first)}): 1 and "1" would be one key '
            f"(give every {key_field} as a string, or every one as a number)"
        )


def _item(
    path: Path, line: int, record: Any, spec: CrewSpec, key_field: str | None, *, kinds: _KeyKinds
) -> Item | BadLine:
    where = f"{path}:{line}"
    if isinstance(record, _Unreadable):
        return BadLine(item_key(record.text), line, f"{where}: {record.reason}", record.text)
    if (
        isinstance(record, dict)
        and set(record) >= DEAD_FIELDS
        and isinstance(record["inputs"], dict)
    ):
        return _checked(where, line, str(record["key"]), record["inputs"], spec)
    if not isinstance(record, dict):
        found = json_kind(record)
        return BadLine(
            item_key(record), line, f"{where}: expected a JSON object, found {found}", record
        )
    key = _key(record, key_field)
    if key is None:
        reason = f"{where}: no field {key_field!r} to key the item by (--key {key_field})"
        return BadLine(item_key(record), line, reason, record)
    clash = kinds.clash(record[key_field], line, key_field) if key_field is not None else None
    if clash is not None:
        return BadLine(key, line, f"{where}: {clash}", record)
    inputs = dict(record)
    if key_field is not None and key_field not in spec.inputs:
        inputs.pop(key_field, None)  # a key field that is no crew input only names the item
    return _checked(where, line, key, inputs, spec)


def _key(record: dict[str, Any], key_field: str | None) -> str | None:
    if key_field is None:
        return item_key(record)
    value = record.get(key_field)
    if value is None or value == "":
        return None
    return fix_text(value if isinstance(value, str) else json.dumps(value, sort_keys=True))


def _checked(
    where: str, line: int, key: str, inputs: dict[str, Any], spec: CrewSpec
) -> Item | BadLine:
    unknown = sorted(set(inputs) - set(spec.inputs))
    if unknown:
        hint = did_you_mean(unknown[0], spec.inputs)
        extra = f" ({hint})" if hint else ""
        reason = f"{where}: not an input of crew {spec.name}: {', '.join(unknown)}{extra}"
        return BadLine(key, line, reason, inputs)
    missing = [
        name
        for name, spec_input in spec.inputs.items()
        if spec_input.is_required() and inputs.get(name, spec_input.default) is None
    ]
    if missing:
        reason = f"{where}: missing required input{'s' * (len(missing) > 1)}: {', '.join(missing)}"
        return BadLine(key, line, reason, inputs)
    return Item(key, line, inputs)


@dataclass(frozen=True)
class _Unreadable:
    text: str
    reason: str


def _open(path: Path, newline: str | None = None) -> Any:
    if path.suffix.lower() not in (".jsonl", ".csv", ".ndjson"):
        raise UsageError(
            f"{path}: the items file must be .jsonl (one JSON object a line) or .csv (a header "
            "row, then one item a row)",
            hint="rename it, or convert it: one JSON object per line",
        )
    try:
        # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is not part of the first name
        return path.open(encoding="utf-8-sig", errors="surrogateescape", newline=newline)
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror})") from None


def _jsonl_records(path: Path) -> Iterator[tuple[int, Any]]:
    with _open(path) as handle:
        for number, text in enumerate(_lines(handle), start=1):
            if not text.strip():
                continue
            yield number, _parsed(text)


def _lines(handle: Any) -> Iterator[str]:
    """Lines, each read at most MAX_LINE_BYTES at a time: a huge line is not held whole."""
    while True:
        text = handle.readline(MAX_LINE_BYTES + 1)
        if not text:
            return
        if len(text) > MAX_LINE_BYTES and not text.endswith("\n"):
            while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith("\n"):
                pass  # skip the rest of the line
            yield "\0too long"
            continue
        yield text


def _parsed(text: str) -> Any:
    if text == "\0too long":
        return _Unreadable("", f"a line longer than {MAX_LINE_BYTES:,} characters")
    fixed = fix_text(text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
    try:
        return fix_value(loads(fixed))
    except ValueError as exc:
        return _Unreadable(fixed.rstrip("\n")[:200], f"not valid JSON ({exc})")


def _csv_records(path: Path) -> Iterator[tuple[int, Any]]:
    with _open(path, newline="") as handle:
        # strict: a quote never closed is an error at the end of the file, not one last row
        # holding every line after it (items silently never run)
        rows = csv.reader(handle, strict=True)
        header = next(rows, None)
        if not header or not any(h.strip() for h in header):
            raise UsageError(f"{path}:1: a CSV items file starts with a header row of input names")
        names = [fix_text(h.strip()) for h in header]
        twice = next((n for n in names if n and names.count(n) > 1), None)
        if twice is not None:
            columns = " and ".join(str(i + 1) for i, n in enumerate(names) if n == twice)
            raise UsageError(
                f"{path}:1: the header names {twice!r} twice (columns {columns}): "
                "which value is the item's?",
                hint="rename or drop one of the columns",
            )
        while True:
            start = rows.line_num + 1  # a row may span lines (a quoted newline): its first
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:  # a field past the size limit, a NUL byte, a stray quote
                yield start, _Unreadable("", _csv_problem(exc, start, rows.line_num))
                continue
            yield from _row(start, row, names)


def _csv_problem(exc: csv.Error, start: int, end: int) -> str:
    if "unexpected end of data" in str(exc):
        return (
            f"a quote opened on line {start} is never closed: lines {start}-{end} were read "
            "as one row; close the quote (a quote inside a quoted field is written twice)"
        )
    return f"not a CSV row ({exc})"


def _row(number: int, row: list[str], names: list[str]) -> Iterator[tuple[int, Any]]:
    if not row:
        return
    if len(row) != len(names):
        reason = f"{len(row)} columns where the header has {len(names)}"
        yield number, _Unreadable(fix_text(",".join(row)[:200]), reason)
        return
    # A column the header leaves unnamed (a trailing comma, as spreadsheets write) is no
    # input: read past while empty, a reason to refuse the row when it holds a value.
    stray = next((i for i, n in enumerate(names) if not n and row[i].strip()), None)
    if stray is not None:
        reason = f"a value in column {stray + 1}, which the header names no input"
        yield number, _Unreadable(fix_text(",".join(row)[:200]), reason)
        return
    yield number, {n: fix_text(v) for n, v in zip(names, row, strict=True) if n}
