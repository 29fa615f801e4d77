"""Run a crew over a batch of items: one run per item, `concurrency` at once, in one process.

The batch owns what its runs share and hands it to each run (engine/shared.py): one budget
ledger (the batch's --max-cost-usd, --max-llm-calls, --max-tokens, held per call in flight as a
run's own budget is), one set of rate-limit buckets, one open tool cache, one stop event. Items
are read one at a time as slots free up, so only the items in flight are in memory. The batch
stops starting items when its ledger refuses a call, when its breaker trips, or on Ctrl-C or
SIGTERM (runs in flight end `interrupted`); batch.json then says why, and `mas resume BATCH_ID`
finishes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mas_cli.batch.breaker import Breaker, Probe, signature
from mas_cli.batch.folder import BatchFolder, BatchStatus, file_lines, now_iso
from mas_cli.batch.items import BadLine, Item, read_items
from mas_cli.batch.outcome import item_output
from mas_cli.batch.passes import Passes
from mas_cli.engine.ledger import Ledger
from mas_cli.engine.outcomes import RunResult
from mas_cli.engine.providers import build_models, close, open_providers
from mas_cli.engine.ratelimit import RateLimiter
from mas_cli.engine.resume import ResumeOptions, prepare_resume
from mas_cli.engine.run import RunOptions, run_crew
from mas_cli.engine.shared import Shared
from mas_cli.errors import MasError, UsageError
from mas_cli.llm.keys import crew_secrets
from mas_cli.llm.types import Provider
from mas_cli.spec.loader import Crew
from mas_cli.spec.models import CrewSpec
from mas_cli.tools import load_tools, scrubbed
from mas_cli.tools.cache import ToolCache, cache_dir
from mas_cli.tools.mcp import open_servers


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

    def to_json(self) -> dict[str, Any]:
        """What batch.json records, so a resume runs the batch as it began."""
        fields = ("concurrency", "key", "offline", "max_cost_usd", "max_llm_calls")
        return {name: getattr(self, name) for name in (*fields, "max_tokens", "breaker")}


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
class _Batch:
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

    @property
    def stopping(self) -> bool:
        return bool(self.interrupted or self.breaker.tripped or self.ledger.hit)


async def run_batch(
    crew: Crew,
    options: BatchOptions,
    folder: BatchFolder,
    *,
    passes: Passes | None = None,
    progress: Progress = lambda _tally: None,
) -> BatchResult:
    """Run every item not done by an earlier pass and record each. `passes` (a resumed batch)
    names the keys done, the last run of each item left unfinished (it is resumed from it),
    and what every earlier run spent: the batch's budgets count it (the bill is cumulative).

    Raises:
        UsageError: the items file cannot be read.
    """
    passes = passes or Passes()
    ledger = Ledger(options.max_llm_calls, options.max_tokens, options.max_cost_usd)
    ledger.llm_calls, ledger.tokens, ledger.cost_usd = (
        passes.llm_calls, passes.tokens, passes.cost_usd
    )  # fmt: skip
    limiter = None if options.offline else RateLimiter.for_crew(crew.spec)
    providers = None if options.offline else _providers(crew)
    try:
        with ToolCache(cache_dir(options.home)) as cache:
            # each MCP server started once for the whole batch, restarted when it dies
            async with open_servers(crew, shared=True) as servers:
                tools, mcp = load_tools(crew), scrubbed(crew, servers.tools)
                secrets = crew_secrets(crew.spec)  # once, not per item
                shared = Shared(
                    ledger, limiter, cache, asyncio.Event(), providers, tools, mcp, secrets
                )
                return await _run_all(crew, options, folder, shared, (passes, progress))
    finally:
        if providers is not None:
            await close(providers)


async def _run_all(
    crew: Crew,
    options: BatchOptions,
    folder: BatchFolder,
    shared: Shared,
    given: tuple[Passes, Progress],
) -> BatchResult:
    passes, progress = given
    assert shared.ledger is not None
    batch = _Batch(crew, options, folder, shared, shared.ledger, progress, passes.done)
    batch.earlier = passes.earlier
    batch.breaker.threshold = options.breaker
    batch.tally.total = file_lines(options.items)
    started = _record_start(batch)
    undo = _install_stops(batch)
    try:
        await _run_items(batch)
    finally:
        undo()
    return _record_end(batch, started)


def _providers(crew: Crew) -> dict[str, Provider] | None:
    """One client per endpoint for every run of the batch; None when a model is offline: an
    offline script counts turns per run, so each run makes its own.

    Raises:
        MissingKey: a model's key variable is unset.
    """
    models = build_models(crew.spec, offline=False)
    if any(model.provider == "offline" for model in models.values()):
        return None
    return open_providers(crew, models, None)


async def _run_items(batch: _Batch) -> None:
    slots = asyncio.Semaphore(max(1, batch.options.concurrency))
    running: set[asyncio.Task[None]] = set()
    for item in _fresh(batch):
        await slots.acquire()
        if batch.stopping:
            slots.release()
            batch.tally.held -= 1
            break
        task = asyncio.create_task(_run_item(batch, item))
        running.add(task)

        def freed(done: asyncio.Task[None]) -> None:
            running.discard(done)
            slots.release()

        task.add_done_callback(freed)
    if running:
        await asyncio.gather(*running)
    batch.progress(batch.tally)


def _fresh(batch: _Batch) -> Iterator[Item]:
    """The items to run: unreadable lines go to dead.jsonl, repeats and done items are passed."""
    items = read_items(batch.options.items, batch.crew.spec, batch.options.key)
    for item in items:
        if batch.stopping:
            return
        if isinstance(item, BadLine):
            batch.folder.dead_letter(item.key, item.reason, item.inputs)
            batch.tally.dead += 1
            batch.progress(batch.tally)
            continue
        digest = bytes.fromhex(_hex(item.key))
        if digest in batch.seen:
            batch.tally.duplicates += 1
            continue
        batch.seen.add(digest)
        if item.key in batch.done:
            batch.tally.skipped += 1
            continue
        batch.tally.held += 1
        batch.tally.peak_held = max(batch.tally.peak_held, batch.tally.held)
        yield item


def _hex(key: str) -> str:
    """16 bytes standing for a key in the set of keys seen (memory: 16 bytes an item)."""
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


async def _run_item(batch: _Batch, item: Item) -> None:
    tally = batch.tally
    tally.in_flight += 1
    tally.peak_in_flight = max(tally.peak_in_flight, tally.in_flight)
    probe = Probe()
    try:
        options = _run_options(batch, item, probe)
        result: RunResult | str = await rerun_item(batch.crew, options, batch.earlier.get(item.key))
    except MasError as exc:  # an item the engine refused before it ran (a tool that won't load)
        result = str(exc)
    finally:
        tally.in_flight -= 1
    _record_item(batch, item, result, probe)
    batch.progress(tally)


async def rerun_item(crew: Crew, options: RunOptions, earlier: str | None) -> RunResult:
    """Run one item; `earlier` is the id of its last run when an earlier pass of the batch left
    it unfinished (failed, stopped, interrupted, killed), else None.

    An unfinished item is resumed as `mas resume RUN_ID` resumes a run: tasks that ended ok
    kept, recorded model calls replayed at no cost, side effects not made again. An item whose
    earlier run is gone or unreadable runs afresh.
    """
    if earlier is None:
        return await run_crew(crew, options)
    try:
        loaded, resumed = prepare_resume(
            options.home, earlier, ResumeOptions(crew=crew.path), options
        )
    except UsageError:
        return await run_crew(crew, options)
    return await run_crew(loaded, resumed)


def _run_options(batch: _Batch, item: Item, probe: Probe) -> RunOptions:
    shared = replace(batch.shared, batch_id=batch.folder.batch_id, item_key=item.key)
    return RunOptions(
        batch.options.home, item.inputs, batch.options.offline, (probe,), shared=shared
    )


def _record_item(batch: _Batch, item: Item, result: RunResult | str, probe: Probe) -> None:
    """One results.jsonl line; the counters and the breaker; a dead letter if it failed."""
    batch.tally.held -= 1
    batch.tally.cost_usd = float(batch.ledger.cost_usd)
    line = result_line(batch.crew.spec, item.key, result, probe)
    batch.folder.result(line)
    _count(batch, line["status"], signature(probe, line["error"]), line["error"])
    if dead(result):
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


def _count(batch: _Batch, status: str, how: str, reason: str | None) -> None:
    batch.tally.add(status)
    if status == "ok":
        batch.breaker.ok()
    elif status == "failed":
        batch.breaker.failed(how, reason, batch.folder.batch_id)


def dead(result: RunResult | str) -> bool:
    """Whether an item goes to dead.jsonl: failed, or stopped by its own limits; not stopped
    by the batch (its budget, a Ctrl-C)."""
    if isinstance(result, str) or result.status == "failed":
        return True
    return result.status == "stopped" and not (result.hit and result.hit.scope == "batch")


def _install_stops(batch: _Batch) -> Callable[[], None]:
    """Ctrl-C and SIGTERM: start no item, and interrupt the runs in flight."""
    loop = asyncio.get_running_loop()
    stop = batch.shared.stop
    assert stop is not None

    def on_signal(name: str) -> None:
        batch.interrupted.append(name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig.name)

    def undo() -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)

    return undo


def _record_start(batch: _Batch) -> dict[str, Any]:
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


def _record_end(batch: _Batch, info: dict[str, Any]) -> BatchResult:
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


def _verdict(batch: _Batch) -> tuple[BatchStatus, str | None]:
    if batch.interrupted:
        return "interrupted", f"interrupted by {batch.interrupted[0]}"
    if batch.breaker.tripped:
        return "stopped", batch.breaker.tripped
    if batch.ledger.hit:
        return "stopped", batch.ledger.hit.message.replace("stopped: ", "batch stopped: ", 1)
    return "finished", None
