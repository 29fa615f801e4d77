"""What one pass over a batch's items holds, and what it writes: results.jsonl lines, dead
letters, the counters, batch.json at the start and at the end (runner.py runs the items here,
workers.py across worker processes; both record through this module)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mas_cli.batch.breaker import Breaker, Probe, signature
from mas_cli.batch.folder import BatchFolder, BatchStatus, now_iso
from mas_cli.batch.items import Item
from mas_cli.batch.outcome import item_output
from mas_cli.engine.ledger import Ledger
from mas_cli.engine.outcomes import RunResult
from mas_cli.engine.shared import Shared
from mas_cli.spec.loader import Crew
from mas_cli.spec.models import CrewSpec


@dataclass(frozen=True)
class BatchOptions:
    """What to run over, how many at once, and the batch's own limits (None: no limit)."""

    home: Path
    items: Path
    concurrency: int = 4
    key: str | None = None
    offline: bool = False
    max_cost_usd: float | None = None
    max_llm_calls: int | None = None
    max_tokens: int | None = None
    breaker: int = 5
    workers: int = 1
    """Processes the items run in (workers.py); 1: this one."""

    def to_json(self) -> dict[str, Any]:
        """What batch.json records, so a resume runs the batch as it began."""
        fields = ("concurrency", "key", "offline", "max_cost_usd", "max_llm_calls")
        return {name: getattr(self, name) for name in (*fields, "max_tokens", "breaker", "workers")}


@dataclass
class Tally:
    """How the batch stands: the progress display reads it, batch.json records it."""

    total: int | None = None  # lines in the items file (an upper bound on the items)
    ok: int = 0
    failed: int = 0
    stopped: int = 0
    dead: int = 0  # unreadable lines
    skipped: int = 0  # done in an earlier pass of this batch
    duplicates: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    held: int = 0  # items read from the file and not yet recorded: what memory follows
    peak_held: int = 0
    cost_usd: float = 0.0
    started: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> int:
        """Items that ended in this pass, however they ended."""
        return self.ok + self.failed + self.stopped

    def add(self, status: object, cost_usd: float = 0.0) -> None:
        """One item ended with this status (ok, failed, else stopped) at this cost."""
        if status == "ok":
            self.ok += 1
        elif status == "failed":
            self.failed += 1
        else:
            self.stopped += 1
        self.cost_usd += cost_usd

    def counts(self) -> dict[str, int]:
        """The counters batch.json records."""
        names = ("ok", "failed", "stopped", "dead", "skipped", "duplicates")
        return {name: getattr(self, name) for name in names}


@dataclass(frozen=True)
class BatchResult:
    """How the batch ended, and where its folder is."""

    batch_id: str
    path: Path
    status: BatchStatus
    reason: str | None
    tally: Tally


Progress = Callable[[Tally], None]


@dataclass
class Pass:
    """One pass over the items: the shared parts, the counters, and how to stop."""

    crew: Crew
    options: BatchOptions
    folder: BatchFolder
    shared: Shared
    ledger: Ledger
    progress: Progress
    done: set[str]
    earlier: dict[str, str] = field(default_factory=dict)
    """Key -> the run id of an item's last run that did not end ok (a resumed batch)."""
    tally: Tally = field(default_factory=Tally)
    breaker: Breaker = field(default_factory=Breaker)
    seen: set[bytes] = field(default_factory=set)
    interrupted: list[str] = field(default_factory=list)
    halted: str | None = None
    """Why the batch cannot go on (every worker process gone): it ends stopped, saying so."""

    @property
    def stopping(self) -> bool:
        return bool(self.interrupted or self.breaker.tripped or self.ledger.hit or self.halted)


def record_item(batch: Pass, item: Item, result: RunResult | str, probe: Probe) -> None:
    """One results.jsonl line; the counters and the breaker; a dead letter if it failed."""
    line = result_line(batch.crew.spec, item.key, result, probe)
    record_line(batch, item, line, signature(probe, line["error"]), dead(result))


def record_line(batch: Pass, item: Item, line: dict[str, Any], how: str, is_dead: bool) -> None:
    """An item's result as made where it ran (here, or in a worker process): `how` it failed
    (the breaker's signature), and whether it goes to dead.jsonl."""
    batch.tally.held -= 1
    batch.tally.cost_usd = float(batch.ledger.cost_usd)
    batch.folder.result(line)
    _count(batch, item.line, line["status"], how, line["error"])
    if is_dead:
        batch.folder.dead_letter(item.key, line["error"] or line["status"], item.inputs)


def result_line(spec: CrewSpec, key: str, result: RunResult | str, probe: Probe) -> dict[str, Any]:
    """An item's results.jsonl line: its run, how it ended, its output and cost, why it failed
    (`result` is the run's result, or why the engine refused it before it ran)."""
    line: dict[str, Any] = {"key": key, "run_id": None, "status": "failed", "output": None}
    if isinstance(result, str):  # refused before it ran
        line["error"] = result
    else:
        line.update(run_id=result.run_id, status=result.status, error=result.reason)
        line["output"] = item_output(result, spec)
    line["cost_usd"] = float(probe.cost_usd)
    return {name: line[name] for name in ("key", "run_id", "status", "output", "cost_usd", "error")}


def _count(batch: Pass, at: int, status: str, how: str, reason: str | None) -> None:
    batch.tally.add(status)
    if status == "ok":
        batch.breaker.ok(at)
    elif status == "failed":
        batch.breaker.failed(how, reason, batch.folder.batch_id, at)


def dead(result: RunResult | str) -> bool:
    """Whether an item goes to dead.jsonl: failed, or stopped by its own limits; not stopped
    by the batch (its budget, a Ctrl-C)."""
    if isinstance(result, str) or result.status == "failed":
        return True
    return result.status == "stopped" and not (result.hit and result.hit.scope == "batch")


def record_start(batch: Pass) -> dict[str, Any]:
    info = {
        "batch_id": batch.folder.batch_id,
        "crew": batch.crew.spec.name,
        "crew_path": str(batch.crew.path.resolve()),
        "inputs_path": str(batch.options.items.resolve()),
        "options": batch.options.to_json(),
        "started": now_iso(),
        "finished": None,
        "status": "running",
        "reason": None,
        "pid": os.getpid(),  # a batch `running` whose process is gone was killed
    }
    batch.folder.write_info(info)
    return info


def record_end(batch: Pass, info: dict[str, Any]) -> BatchResult:
    status, reason = _verdict(batch)
    tally = batch.tally
    tally.cost_usd = float(batch.ledger.cost_usd)
    info.update(
        finished=now_iso(),
        status=status,
        reason=reason,
        counts=tally.counts(),
        cost_usd=round(tally.cost_usd, 8),
        llm_calls=batch.ledger.llm_calls,
    )
    batch.folder.write_info(info)
    return BatchResult(batch.folder.batch_id, batch.folder.path, status, reason, tally)


def _verdict(batch: Pass) -> tuple[BatchStatus, str | None]:
    if batch.interrupted:
        return "interrupted", f"interrupted by {batch.interrupted[0]}"
    if batch.breaker.tripped:
        return "stopped", batch.breaker.tripped
    if batch.ledger.hit:
        return "stopped", batch.ledger.hit.message.replace("stopped: ", "batch stopped: ", 1)
    if batch.halted:
        return "stopped", batch.halted
    return "finished", None
