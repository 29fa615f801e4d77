"""A batch's view: one page with the items as a table (status, cost, loops), each item linking
to its run's own page, written beside that run.

A batch lives in `<home>/batches/<batch_id>/`: `batch.json`, `results.jsonl` (one line per
finished item: key, run_id, status, output, cost_usd, error) and `dead.jsonl` (failed items:
key, reason, inputs). The runs of its items that results.jsonl does not name (a resume of an
item's run made by hand, a run in flight at a kill) are rows too, read from their logs, found
as the batch's budget and reports find them (events/chains.py): an item resumed by hand shows
its latest run, and what that run spent counts. One file per run keeps each page bounded by
its own run, and the index by `MAX_ITEMS` rows.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mas_cli.errors import UsageError
from mas_cli.events.chains import run_outcome, unrecorded_runs
from mas_cli.events.diskio import refuse_overwriting
from mas_cli.events.store import EVENTS, resolve_log, runs_dir
from mas_cli.view.build import VIEW, run_html, write_atomic, write_run_view
from mas_cli.view.page import html_page
from mas_cli.view.svg import cut, esc
from mas_cli.words import plural

BATCHES = "batches"
RESULTS, DEAD = "results.jsonl", "dead.jsonl"
MAX_ITEMS = 10_000
MAX_LINE = 1 << 20
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass
class Item:
    """One item of a batch, as its table row shows it."""

    key: str
    status: str
    run_id: str = ""
    cost: float | None = None
    loops: int | None = None
    link: str = ""
    note: str = ""


def write_view(
    home: Path, ref: str | None, last: bool, out: Path | None = None, include_content: bool = False
) -> Path:
    """Write the view of the run or batch a user named; the page's path.

    A batch is named by its folder or its exact id; a run by anything `resolve_log` takes; a
    unique prefix of a batch id only when it names no run.
    """
    batch = _batch(home, ref, exact=True) if ref and not last else None
    if batch is None:
        try:
            log = resolve_log(home, ref, last)
        except UsageError:
            batch = _batch(home, ref, exact=False) if ref and not last else None
            if batch is None:
                raise
        else:
            return write_run_view(log, out, include_content)
    return write_batch_view(batch, home, out, include_content)


def _batch(home: Path, ref: str, *, exact: bool) -> Path | None:
    """The folder of the batch `ref` names (its path, its id, or with `exact` off a unique
    prefix of its id), if any."""
    if (Path(ref) / RESULTS).is_file() or (Path(ref) / "batch.json").is_file():
        return Path(ref)
    folder = home / BATCHES
    if not folder.is_dir() or "/" in ref:
        return None
    if exact:
        return folder / ref if (folder / ref).is_dir() else None
    matches = [p for p in folder.iterdir() if p.name.startswith(ref) and p.is_dir()]
    if len(matches) > 1:
        raise UsageError(f"{len(matches)} batches match '{ref}'", hint="give more of the id")
    return matches[0] if matches else None


def write_batch_view(
    folder: Path, home: Path, out: Path | None = None, include_content: bool = False
) -> Path:
    """Write each item's run page and the batch's index page; the index's path."""
    if out is not None:
        refuse_overwriting(out, [folder / name for name in (RESULTS, DEAD, "batch.json")], "--out")
    target = out or folder / VIEW
    items = _run_items(folder, home)
    for item in items:
        _link(item, home, target.parent, include_content)
    items += [_dead(r) for r in _records(folder / DEAD)]
    info = _json_file(folder / "batch.json")
    write_atomic(
        target, html_page(f"mas view · batch {folder.name}", _body(folder, info, items), {})
    )
    return target


def _records(path: Path) -> Iterator[dict[str, Any]]:
    try:
        lines = path.open("rb")
    except OSError:
        return
    with lines:
        for count, line in enumerate(lines):
            if count >= MAX_ITEMS:
                return
            record = _parse(line) if len(line) <= MAX_LINE else None
            if isinstance(record, dict):
                yield record


def _parse(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


def _json_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes()[:MAX_LINE])
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _run_items(folder: Path, home: Path) -> list[Item]:
    """Every run of the batch's items: each result line's, then each of the runs it does not
    name, at most `MAX_ITEMS` in all."""
    items = [_item(record) for record in _records(folder / RESULTS)]
    named = {item.run_id for item in items if item.run_id}
    for run_id, key in unrecorded_runs(home, folder.name, named)[: MAX_ITEMS - len(items)]:
        ended = run_outcome(runs_dir(home) / run_id)
        items.append(Item(key, ended.status, run_id, ended.cost_usd, note=ended.reason or ""))
    return items


def _item(record: dict[str, Any]) -> Item:
    cost = record.get("cost_usd")
    return Item(
        str(record.get("key", "?")),
        str(record.get("status", "?")),
        str(record.get("run_id") or ""),
        cost if isinstance(cost, int | float) else None,
        note=str(record.get("error") or ""),
    )


def _link(item: Item, home: Path, base: Path, include_content: bool) -> None:
    """Write the item's run page beside its run and link the row to it."""
    log = runs_dir(home) / item.run_id / EVENTS
    if _SAFE_ID.fullmatch(item.run_id) and log.is_file():
        page, _, findings = run_html(log, include_content)
        write_atomic(log.parent / VIEW, page)
        item.loops, item.link = len(findings), os.path.relpath(log.parent / VIEW, base)
    elif item.run_id:
        item.note = (item.note + " · " if item.note else "") + "its run's log is not here"


def _dead(record: dict[str, Any]) -> Item:
    return Item(str(record.get("key", "?")), "dead", note=str(record.get("reason") or ""))


def _body(folder: Path, info: dict[str, Any], items: list[Item]) -> str:
    runs = {i.run_id: i.cost or 0.0 for i in items if i.run_id}  # a run counts once
    keys, cost = {i.key for i in items}, sum(runs.values())
    status = info.get("status", "?")
    counts = f"{plural(len(keys), 'item')} · {plural(len(runs), 'run')}"
    facts = f"{counts} · ${cost:.6f} · status {status}"
    head = (
        "<tr><th>item</th><th>status</th><th>cost</th><th>loops</th><th>run</th><th>note</th></tr>"
    )
    rows = "".join(map(_row, items))
    crew = f'<p class="sub">crew {esc(info.get("crew", info.get("crew_path", "?")))}</p>'
    return (
        f"<header><h1>batch <small>{esc(folder.name)}</small></h1>{crew}"
        f'<p class="sub">{esc(facts)}</p></header><section id="items"><h2>Items</h2>'
        f'<div class="scroll"><table class="items">{head}{rows}</table></div></section>'
    )


def _row(item: Item) -> str:
    cost = "—" if item.cost is None else f"${item.cost:.6f}"
    loops = "—" if item.loops is None else str(item.loops)
    run = (
        f'<a href="{esc(item.link)}">{esc(item.run_id)}</a>'
        if item.link
        else esc(item.run_id or "—")
    )
    return (
        f'<tr class="st-{esc(item.status)}"><td>{esc(cut(item.key, 80))}</td>'
        f"<td>{esc(item.status)}</td><td>{esc(cost)}</td><td>{esc(loops)}</td><td>{run}</td>"
        f"<td>{esc(cut(item.note, 200))}</td></tr>"
    )
