"""What `mas export` reads: a run (id, prefix, folder or events.jsonl), the last run, or a batch.

A batch lives in `<home>/batches/<batch_id>/`; its `results.jsonl` names each finished item's
run, and each of those runs is exported as a trace of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

from mas_cli.errors import UsageError
from mas_cli.events.store import EVENTS, resolve_log, runs_dir

BATCHES = "batches"
RESULTS = "results.jsonl"


def export_paths(home: Path, refs: list[str]) -> list[Path]:
    """The events.jsonl of every run named, in the order named (a batch: its items' runs);
    none named: the last run.

    Raises:
        UsageError: a name that matches no run or batch, or several.
    """
    if not refs:
        return [resolve_log(home, None, last=True)]
    paths: list[Path] = []
    for ref in refs:
        batch = _batch_dir(home, ref)
        paths.extend(batch_runs(home, batch) if batch else [resolve_log(home, ref, last=False)])
    return paths


def _batch_dir(home: Path, ref: str) -> Path | None:
    if Path(ref).is_dir() and (Path(ref) / RESULTS).is_file():
        return Path(ref)
    folder = home / BATCHES
    if not folder.is_dir() or "/" in ref:
        return None
    matches = [p for p in folder.iterdir() if p.name.startswith(ref) and p.is_dir()]
    exact = [p for p in matches if p.name == ref]
    return (exact or matches)[0] if len(exact or matches) == 1 else None


def batch_runs(home: Path, batch: Path) -> list[Path]:
    """The runs of a batch's items, from its results.jsonl (a line that is not JSON is skipped).

    Raises:
        UsageError: a batch with no finished item yet.
    """
    paths: list[Path] = []
    try:
        lines = (batch / RESULTS).read_text(errors="replace").splitlines()
    except OSError as exc:
        raise UsageError(f"{batch / RESULTS}: cannot be read ({exc.strerror})") from None
    for line in lines:
        run_id = _run_id(line)
        if run_id and (runs_dir(home) / run_id / EVENTS).is_file():
            paths.append(runs_dir(home) / run_id / EVENTS)
    if not paths:
        raise UsageError(
            f"batch {batch.name} has no finished item with a run under {runs_dir(home)}",
            hint="wait for the batch to finish an item, or name a run: mas runs",
        )
    return paths


def _run_id(line: str) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    run_id = record.get("run_id") if isinstance(record, dict) else None
    return run_id if isinstance(run_id, str) and run_id and "/" not in run_id else None
