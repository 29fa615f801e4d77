"""`mas batch`: a live progress bar on stderr (plain lines without a terminal), a summary."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn

from mas_cli.cli.render.base import json_out, stderr, styled
from mas_cli.cli.render.safe import safe

if TYPE_CHECKING:
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
