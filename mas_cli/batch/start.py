"""Start a batch, or finish one after any stop: what `mas batch` and `mas resume BATCH_ID` call."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

from mas_cli.batch.folder import (
    INFO,
    LOCK,
    BatchFolder,
    batches_dir,
    file_lines,
    latest_results,
    live_status,
    new_batch_id,
    read_info,
    resolve_batch,
)
from mas_cli.batch.passes import line_spend, read_passes
from mas_cli.batch.runner import BatchOptions, BatchResult, Progress, Tally, run_batch
from mas_cli.errors import MasError, UsageError
from mas_cli.events.diskio import write_failure
from mas_cli.events.liveness import Held, exclusive
from mas_cli.records import replace
from mas_cli.spec.loader import Crew, load_crew


def start_batch(crew: Crew, options: BatchOptions, progress: Progress) -> BatchResult:
    """A new batch folder under the home, and every item of the file run once.

    Raises:
        UsageError: the items file cannot be read, or the home cannot be written.
    """
    if not options.items.is_file():
        raise UsageError(f"{options.items}: no such file", hint="give a .jsonl or .csv of items")
    with BatchFolder(batches_dir(options.home) / new_batch_id()) as folder, _claimed(folder.path):
        try:
            return asyncio.run(_runner(options)(crew, options, folder, progress=progress))
        except MasError:  # refused before it began (a key not set): leave no empty batch behind
            if not (folder.path / INFO).exists():
                shutil.rmtree(folder.path, ignore_errors=True)
            raise


def resume_batch(home: Path, ref: str, progress: Progress, **changes: Any) -> BatchResult:
    """Finish a batch: items whose last result is ok are skipped, the others run again.

    `changes` override the options the batch began with (a higher --max-cost-usd, ...).

    Raises:
        UsageError: no such batch, or its crew or items file is gone or no longer loads.
    """
    path = resolve_batch(home, ref)
    locked_before = (path / LOCK).is_file()  # else a batch from before locks: its pid tells
    with _claimed(path) as held:  # two resumes at once ran every item twice, on two budgets
        info = read_info(path)
        if not (held and locked_before) and live_status(info) == "running":
            raise _still_running(path, info.get("pid"))
        crew = load_crew(Path(str(info.get("crew_path", ""))))
        options = _options(home, info, changes)
        passes = read_passes(home, path)
        with BatchFolder(path) as folder:
            run = _runner(options)
            return asyncio.run(run(crew, options, folder, passes=passes, progress=progress))


@contextlib.contextmanager
def _claimed(folder: Path) -> Iterator[bool]:
    """One process runs a batch at a time: it holds the batch's lock while it runs; whether
    it does (a file system without locks holds none).

    Raises:
        UsageError: another process runs the batch, or the lock cannot be made.
    """
    try:
        with exclusive(folder / LOCK) as held:
            yield held
    except Held as held:
        raise _still_running(folder, held.pid) from None
    except OSError as exc:
        raise UsageError(write_failure(folder / LOCK, exc)) from None


def _still_running(folder: Path, pid: object) -> UsageError:
    stop = f"kill -INT {pid}" if pid else "Ctrl-C"
    return UsageError(
        f"batch {folder.name} is still running (process {pid or 'unknown'})",
        hint=f"wait for it to end, or stop it ({stop}), then resume",
    )


AUTO_WORKERS_FROM = 1000
"""Items (lines of the file) from which a batch runs across processes by default: a worker
costs about a second of CPU to start, which fewer items do not win back."""
AUTO_WORKERS_MAX = 4


def auto_workers(items: Path) -> int:
    """The default --workers: one per core (up to AUTO_WORKERS_MAX) for a large file, else 1."""
    if not items.is_file() or file_lines(items) < AUTO_WORKERS_FROM:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), AUTO_WORKERS_MAX))


def _runner(options: BatchOptions) -> Callable[..., Coroutine[Any, Any, BatchResult]]:
    """run_batch in this process, or across worker processes."""
    if options.workers > 1:
        from mas_cli.batch.workers import run_with_workers

        return run_with_workers
    return run_batch


def _bad_number(value: Any) -> bool:
    if value is None:
        return False
    return isinstance(value, bool) or not math.isfinite(value) or value < 0


KINDS: dict[str, tuple[type, ...]] = {
    "concurrency": (int,),
    "key": (str, type(None)),
    "offline": (bool,),
    "max_cost_usd": (int, float, type(None)),
    "max_llm_calls": (int, type(None)),
    "max_tokens": (int, type(None)),
    "breaker": (int,),
    "workers": (int,),
}
"""The options batch.json records, and the JSON types each may have."""


def _options(home: Path, info: dict[str, Any], changes: dict[str, Any]) -> BatchOptions:
    recorded = info.get("options")
    kept = recorded if isinstance(recorded, dict) else {}
    kept = {k: v for k, v in kept.items() if k in KINDS}
    for name, value in kept.items():
        numeric = name not in ("key", "offline")
        if not isinstance(value, KINDS[name]) or (numeric and _bad_number(value)):
            raise UsageError(
                f"batch.json: options.{name} is {value!r}, not a valid value",
                hint=f"fix or remove options.{name} in batch.json, or give it to mas resume",
            )
    items = Path(str(info.get("inputs_path", "")))
    if not items.is_file():
        raise UsageError(
            f"the items file of this batch is gone: {items}",
            hint="put it back where it was, then run mas resume again",
        )
    options = BatchOptions(home, items, **kept)
    return replace(options, **{k: v for k, v in changes.items() if v is not None})


def tally_of(path: Path) -> Tally:
    """A batch's counters as its results.jsonl tells them (each item's last result)."""
    tally = Tally(total=None)
    for record in latest_results(path).values():
        tally.add(record.get("status"), float(line_spend(record).known_cost))
    return tally
