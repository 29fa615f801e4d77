"""`mas runs prune`: remove old run folders, never the cache, never a run that may be live."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from mas_cli.events.liveness import is_running
from mas_cli.events.store import EVENTS, run_ids, run_time, runs_dir

LIVE_WINDOW_S = 3600.0
"""An unfinished run whose log changed this recently may still be running: it is kept."""


@dataclass
class Pruned:
    """What a prune removed (or would remove) and what it kept."""

    removed: list[str] = field(default_factory=list)
    kept: int = 0
    maybe_live: list[str] = field(default_factory=list)
    bytes_freed: int = 0


def prune_runs(
    home: Path, *, older_than: datetime | None, keep: int | None, dry_run: bool = False
) -> Pruned:
    """Remove the runs started before `older_than` and those past the newest `keep`.

    Both conditions may be given; a run goes when either says so. Folders are removed only
    under `<home>/runs/`, and only those that hold an events.jsonl; the tool cache is left alone.
    """
    ids = run_ids(home)
    newest = set(ids[-keep:]) if keep else set()
    out = Pruned()
    for run_id in ids:
        if not _expired(run_id, older_than, keep, newest):
            out.kept += 1
        elif _maybe_live(runs_dir(home) / run_id):
            out.kept += 1
            out.maybe_live.append(run_id)
        else:
            out.bytes_freed += _remove(runs_dir(home) / run_id, dry_run)
            out.removed.append(run_id)
    return out


def _expired(run_id: str, older_than: datetime | None, keep: int | None, newest: set[str]) -> bool:
    started = run_time(run_id)
    too_old = older_than is not None and started is not None and started < older_than
    return too_old or (keep is not None and run_id not in newest)


def _maybe_live(folder: Path) -> bool:
    if is_running(folder):  # a live process holds it, however long its log has been quiet
        return True
    log = folder / EVENTS
    try:
        recent = time.time() - log.stat().st_mtime < LIVE_WINDOW_S
        return recent and b'"type":"run_finished"' not in _tail(log)
    except OSError:
        return False


def _tail(log: Path, size: int = 65536) -> bytes:
    with log.open("rb") as f:
        f.seek(max(0, f.seek(0, 2) - size))
        return f.read()


def _remove(folder: Path, dry_run: bool) -> int:
    if folder.is_symlink():  # a link someone put here: remove the link, never what it points to
        if not dry_run:
            folder.unlink()
        return 0
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    if not dry_run:
        shutil.rmtree(folder)
    return size
