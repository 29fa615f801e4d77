"""Start a batch, or finish one after any stop: what `mas batch` and `mas resume BATCH_ID` call."""

from __future__ import annotations

import asyncio
import math
import shutil
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from mas_cli.batch.folder import (
    INFO,
    BatchFolder,
    batches_dir,
    latest_results,
    new_batch_id,
    read_info,
    read_results,
    resolve_batch,
)
from mas_cli.batch.runner import BatchOptions, BatchResult, Progress, run_batch
from mas_cli.errors import MasError, UsageError
from mas_cli.spec.loader import Crew, load_crew


def start_batch(crew: Crew, options: BatchOptions, progress: Progress) -> BatchResult:
    """A new batch folder under the home, and every item of the file run once.

    Raises:
        UsageError: the items file cannot be read, or the home cannot be written.
    """
    if not options.items.is_file():
        raise UsageError(f"{options.items}: no such file", hint="give a .jsonl or .csv of items")
    with BatchFolder(batches_dir(options.home) / new_batch_id()) as folder:
        try:
            return asyncio.run(run_batch(crew, options, folder, progress=progress))
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
    info = read_info(path)
    crew = load_crew(Path(str(info.get("crew_path", ""))))
    options = _options(home, info, changes)
    done, earlier = _earlier(path)
    spent = sum((_cost(r) for r in read_results(path)), Decimal(0))
    with BatchFolder(path) as folder:
        return asyncio.run(
            run_batch(
                crew, options, folder, done=done, earlier=earlier, spent=spent, progress=progress
            )
        )


def _cost(record: dict[str, Any]) -> Decimal:
    """What one result line says its run cost (0 when it says nothing usable)."""
    cost = record.get("cost_usd")
    if isinstance(cost, int | float) and not isinstance(cost, bool) and math.isfinite(cost):
        return Decimal(str(cost))
    return Decimal(0)


def _earlier(path: Path) -> tuple[set[str], dict[str, str]]:
    """The keys done, and the last run of each item left unfinished."""
    done, earlier = set(), {}
    for key, record in latest_results(path).items():
        if record.get("status") == "ok":
            done.add(key)
        elif isinstance(record.get("run_id"), str):
            earlier[key] = record["run_id"]
    return done, earlier


def _options(home: Path, info: dict[str, Any], changes: dict[str, Any]) -> BatchOptions:
    recorded = info.get("options") if isinstance(info.get("options"), dict) else {}
    assert isinstance(recorded, dict)
    known = set(BatchOptions.__dataclass_fields__) - {"home", "items"}
    kept = {k: v for k, v in recorded.items() if k in known}
    items = Path(str(info.get("inputs_path", "")))
    if not items.is_file():
        raise UsageError(
            f"the items file of this batch is gone: {items}",
            hint="put it back where it was, then run mas resume again",
        )
    options = BatchOptions(home, items, **kept)
    return replace(options, **{k: v for k, v in changes.items() if v is not None})
