"""The batch named by `--batch` or `--last-batch`, and its run logs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mas_cli.batch.report import BatchView


def chosen_batch(home: Path | None, ref: str | None, last: bool) -> BatchView | None:
    """The batch named by --batch or --last-batch, read from its folder; None when neither."""
    if ref is None and not last:
        return None
    from mas_cli.batch.folder import resolve_batch
    from mas_cli.batch.report import read_batch
    from mas_cli.events.store import home_dir

    where = home_dir(home)
    return read_batch(where, resolve_batch(where, ref, last=last))


def batch_logs(home: Path | None, view: BatchView) -> list[Path]:
    """The run logs of a batch's items (each item's last run)."""
    from mas_cli.batch.report import batch_logs as logs
    from mas_cli.events.store import home_dir

    return logs(home_dir(home), view)


def missing_runs(home: Path | None, view: BatchView) -> list[str]:
    """The run ids of a batch's items whose run is gone: the batch's totals leave them out."""
    from mas_cli.batch.report import missing_runs as missing
    from mas_cli.events.store import home_dir

    return missing(home_dir(home), view)
