"""`mas batch`: a live progress bar on stderr (plain lines without a terminal), a summary."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn

from mas_cli.cli.render.base import json_out, stderr, stdout, styled
from mas_cli.cli.render.fit import print_table
from mas_cli.cli.render.grid import Grid
from mas_cli.cli.render.safe import safe

if TYPE_CHECKING:
    from mas_cli.batch.report import BatchView, ItemRow
    from mas_cli.batch.runner import BatchResult, Tally

PLAIN_EVERY_S = 5.0  # without a terminal, a progress line at most this often
STYLE = {"finished": "green", "stopped": "red", "interrupted": "yellow"}


def figures(tally: Tally) -> str:
    """done 120 · failed 2 · stopped 0 · $0.0412 · 480/min · 1m 05s left."""
    minutes = max(time.monotonic() - tally.started, 1e-6) / 60
    rate = tally.finished / minutes
    text = (
        f"done {tally.ok:,} · failed {tally.failed:,} · stopped {tally.stopped:,}"
        f" · ${tally.cost_usd:.4f} · {rate:,.0f}/min"
    )
    if tally.dead:
        text += f" · unreadable {tally.dead:,}"
    left = _left(tally, rate)
    return text + (f" · {left} left" if left else "")


def _left(tally: Tally, rate: float) -> str | None:
    if tally.total is None or rate <= 0:
        return None
    handled = tally.finished + tally.dead + tally.skipped + tally.duplicates
    seconds = max(tally.total - handled, 0) / rate * 60
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


class BatchProgress:
    """Called with the tally after each item: a rich bar on a terminal, else a line now and then."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bar: Progress | None = None
        self.task: Any = None
        self.said = 0.0

    def __enter__(self) -> BatchProgress:
        if not self.quiet and stderr.is_terminal:
            columns = (BarColumn(), TextColumn("{task.fields[figures]}"))
            self.bar = Progress(*columns, console=stderr, transient=False)
            self.task = self.bar.add_task("batch", total=None, figures="starting")
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, tally: Tally) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            done = tally.finished + tally.dead + tally.skipped + tally.duplicates
            self.bar.update(self.task, total=tally.total, completed=done, figures=figures(tally))
            return
        now = time.monotonic()
        if now - self.said >= PLAIN_EVERY_S:
            self.said = now
            stderr.print(escape(figures(tally)), highlight=False)


def batch_result(result: BatchResult, *, as_json: bool) -> None:
    """The closing lines on stderr; with --json, batch.json's figures on stdout."""
    tally = result.tally
    if as_json:
        json_out(
            {
                "batch_id": result.batch_id,
                "path": str(result.path),
                "status": result.status,
                "reason": result.reason,
                "counts": tally.counts(),
                "cost_usd": tally.cost_usd,
            }
        )
    stderr.print(escape(figures(tally)), highlight=False)
    status = styled(result.status, STYLE.get(result.status, ""))
    reason = f": {escape(safe(result.reason))}" if result.reason else ""
    stderr.print(f"batch {result.batch_id} {status}{reason}", highlight=False)
    stderr.print(
        f"results {escape(str(result.path))}/results.jsonl · "
        f"dead letters {escape(str(result.path))}/dead.jsonl",
        highlight=False,
    )


def _cost(value: float | None) -> str:
    return "-" if value is None else f"${value:.6f}"


def _table(*columns: str) -> Grid:
    table = Grid(header_style="bold")
    for name in columns:
        table.add_column(name, justify="right" if name in RIGHT else "left")
    return table


RIGHT = {"cost", "items", "ok", "failed", "stopped", "dead"}


def items_table(view: BatchView) -> None:
    """`mas runs --batch`: every item by its last result, dearest first."""
    table = _table("key", "status", "cost", "run", "error")
    for item in sorted(view.items, key=lambda i: -(i.cost_usd or 0)):
        status = styled(item.status, ITEM_STYLE.get(item.status, "yellow"))
        error = escape(safe((item.error or "")[:80]))
        table.add_row(
            escape(safe(item.key)), status, _cost(item.cost_usd), item.run_id or "-", error
        )
    print_table(table)
    stderr.print(_totals(view), highlight=False)


ITEM_STYLE = {"ok": "green", "failed": "red", "stopped": "red", "interrupted": "yellow"}


def _totals(view: BatchView) -> str:
    counts = " · ".join(f"{status} {count:,}" for status, count in view.by_status().items())
    dead = f" · dead letters {view.dead:,}" if view.dead else ""
    cost = _cost(view.cost_usd)
    return f"batch {view.batch_id}: {len(view.items):,} items ({counts}){dead} · {cost}"


def overview(view: BatchView) -> None:
    """`mas show --batch`: what the batch is, how it stands, its costliest items."""
    info = view.info
    word = str(view.to_json()["status"])
    status = styled(word, STYLE.get(word, "yellow"))
    stdout.print(f"batch {view.batch_id} · crew {escape(safe(str(info.get('crew'))))} · {status}")
    if info.get("reason"):
        stdout.print(f"  {escape(safe(str(info['reason'])))}")
    stdout.print(f"  items {escape(safe(str(info.get('inputs_path'))))}")
    started, finished = info.get("started"), info.get("finished") or "-"
    stdout.print(escape(safe(f"  started {started} · finished {finished}")))
    stdout.print(escape(_totals(view)))
    _items("costliest items:", view.costliest(10), reason=False)
    _items("items that looped (stopped by a loop guard):", view.looped(10), reason=True)


def _items(title: str, items: list[ItemRow], *, reason: bool) -> None:
    if not items:
        return
    stdout.print(title)
    table = _table("key", "status", "cost", "run", *(["why"] if reason else []))
    for item in items:
        status = styled(item.status, ITEM_STYLE.get(item.status, "yellow"))
        why = [escape(safe((item.error or "")[:100]))] if reason else []
        row = (escape(safe(item.key)), status, _cost(item.cost_usd), item.run_id or "-", *why)
        table.add_row(*row)
    print_table(table)


def batches_table(rows: list[dict[str, Any]]) -> None:
    """`mas runs --batches`: every batch, newest first."""
    table = _table("batch", "crew", "status", "started", "ok", "failed", "stopped", "dead", "cost")
    for row in rows:
        counts = row["counts"]
        cost = row["cost_usd"] if isinstance(row["cost_usd"], int | float) else None
        table.add_row(
            row["batch_id"],
            escape(safe(str(row["crew"]))),
            styled(str(row["status"]), STYLE.get(str(row["status"]), "yellow")),
            str(row["started"] or "-"),
            *(f"{counts.get(name, 0):,}" for name in ("ok", "failed", "stopped", "dead")),
            _cost(cost),
        )
    print_table(table)
