"""What `mas export` reads: a run (id, prefix, folder or events.jsonl), the last run, or a batch.

A batch lives in `<home>/batches/<batch_id>/`; its `results.jsonl` names each finished item's
run, and each of those runs is exported as a trace of its own, with the runs of its items it
does not name (a resume of an item's run made by hand, a run in flight at a kill), found as the
batch's budget and reports find them (events/chains.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mas_cli.errors import UsageError
from mas_cli.events.chains import unrecorded_runs
from mas_cli.events.store import EVENTS, resolve_log, runs_dir

BATCHES = "batches"
RESULTS = "results.jsonl"


@dataclass
class Chosen:
    """The logs to export, each once, and the runs a batch names whose folder is gone."""

    paths: list[Path] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    _seen: set[Path] = field(default_factory=set)
    _lost: set[str] = field(default_factory=set)

    def add(self, path: Path) -> None:
        """A log, unless it is one already chosen (a run named again, or by its batch)."""
        if (resolved := path.resolve()) not in self._seen:
            self._seen.add(resolved)
            self.paths.append(path)

    def lost(self, run_id: str) -> None:
        """A run a batch names whose folder is gone."""
        if run_id not in self._lost:
            self._lost.add(run_id)
            self.gone.append(run_id)


def export_paths(home: Path, refs: list[str]) -> Chosen:
    """The events.jsonl of every run named, once each, in the order first named (a batch: its
    items' runs); none named: the last run.

    Raises:
        UsageError: a name that matches no run or batch, or several.
    """
    chosen = Chosen()
    if not refs:
        chosen.add(resolve_log(home, None, last=True))
    for ref in refs:
        batch = _batch_dir(home, ref)
        if batch is None:
            chosen.add(resolve_log(home, ref, last=False))
            continue
        paths, gone = batch_runs(home, batch)
        for path in paths:
            chosen.add(path)
        for run_id in gone:
            chosen.lost(run_id)
    return chosen


def _batch_dir(home: Path, ref: str) -> Path | None:
    if Path(ref).is_dir() and (Path(ref) / RESULTS).is_file():
        return Path(ref)
    folder = home / BATCHES
    if not folder.is_dir() or "/" in ref:
        return None
    matches = [p for p in folder.iterdir() if p.name.startswith(ref) and p.is_dir()]
    exact = [p for p in matches if p.name == ref]
    return (exact or matches)[0] if len(exact or matches) == 1 else None


def batch_runs(home: Path, batch: Path) -> tuple[list[Path], list[str]]:
    """The runs of a batch's items: those its results.jsonl names (a line that is not JSON is
    skipped), then those it does not (see the module's doc); and the run ids it names whose
    folder is gone (`mas runs prune` removed them).

    Raises:
        UsageError: a batch with no finished item whose run is still there.
    """
    paths: list[Path] = []
    gone: list[str] = []
    try:
        lines = (batch / RESULTS).read_text(errors="replace").splitlines()
    except OSError as exc:
        raise UsageError(f"{batch / RESULTS}: cannot be read ({exc.strerror})") from None
    named = [run_id for run_id in map(_run_id, lines) if run_id]
    for run_id in named:
        if (runs_dir(home) / run_id / EVENTS).is_file():
            paths.append(runs_dir(home) / run_id / EVENTS)
        else:
            gone.append(run_id)
    for run_id, _key in unrecorded_runs(home, batch.name, set(named)):
        paths.append(runs_dir(home) / run_id / EVENTS)
    if not paths:
        pruned = f" ({len(gone)} that it names are gone: pruned?)" if gone else ""
        raise UsageError(
            f"batch {batch.name} has no finished item with a run under {runs_dir(home)}{pruned}",
            hint="wait for the batch to finish an item, or name a run: mas runs",
        )
    return paths, gone


def _run_id(line: str) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    run_id = record.get("run_id") if isinstance(record, dict) else None
    return run_id if isinstance(run_id, str) and run_id and "/" not in run_id else None
