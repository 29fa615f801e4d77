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
from collections.abc import Awaitable, Callable, Iterator

from mas_cli.batch.breaker import Probe
from mas_cli.batch.folder import BatchFolder, file_lines
from mas_cli.batch.items import BadLine, Item, read_items
from mas_cli.batch.passes import Passes
from mas_cli.batch.records import (
    BatchOptions,
    BatchResult,
    Pass,
    Progress,
    Tally,
    dead,
    record_end,
    record_item,
    record_start,
    result_line,
)
from mas_cli.engine.ledger import Ledger
from mas_cli.engine.outcomes import RunResult
from mas_cli.engine.providers import build_models, close, open_providers
from mas_cli.engine.ratelimit import RateLimiter
from mas_cli.engine.resume import ResumeOptions, claimed, last_of_chain, prepare_resume
from mas_cli.engine.run import RunOptions, run_crew
from mas_cli.engine.shared import Shared
from mas_cli.engine.stops import answered
from mas_cli.errors import MasError, UsageError
from mas_cli.events.liveness import is_running
from mas_cli.llm.keys import crew_secrets
from mas_cli.llm.types import Provider
from mas_cli.records import replace
from mas_cli.spec.loader import Crew
from mas_cli.tools import load_tools, scrubbed
from mas_cli.tools.cache import ToolCache, cache_dir
from mas_cli.tools.mcp import open_servers


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
    ledger = batch_ledger(options, passes)
    limiter = None if options.offline else RateLimiter.for_crew(crew.spec)
    providers = None if options.offline else providers_for(crew)
    try:
        with ToolCache(cache_dir(options.home)) as cache:
            # each MCP server started once for the whole batch, restarted when it dies
            async with open_servers(crew, shared=True) as servers:
                tools, mcp = load_tools(crew), scrubbed(crew, servers.tools)
                secrets = crew_secrets(crew.spec)  # once, not per item
                shared = Shared(
                    ledger, limiter, cache, asyncio.Event(), providers, tools, mcp, secrets
                )
                return await run_all(crew, options, folder, shared, (passes, progress))
    finally:
        if providers is not None:
            await close(providers)


def batch_ledger(options: BatchOptions, passes: Passes) -> Ledger:
    """The batch's budget, counting what every earlier pass spent (the bill is cumulative)."""
    ledger = Ledger(options.max_llm_calls, options.max_tokens, options.max_cost_usd)
    ledger.llm_calls, ledger.tokens, ledger.cost_usd = (
        passes.llm_calls, passes.tokens, passes.cost_usd
    )  # fmt: skip
    return ledger


async def run_all(
    crew: Crew,
    options: BatchOptions,
    folder: BatchFolder,
    shared: Shared,
    given: tuple[Passes, Progress],
    *,
    run_items: Callable[[Pass], Awaitable[None]] | None = None,
) -> BatchResult:
    """Record the pass's start, run its items (here, or as `run_items` does), record its end."""
    passes, progress = given
    assert shared.ledger is not None
    batch = Pass(crew, options, folder, shared, shared.ledger, progress, passes.done)
    batch.earlier = passes.earlier
    batch.breaker.threshold = options.breaker
    batch.tally.total = file_lines(options.items)
    started = record_start(batch)
    undo = _install_stops(batch)
    try:
        await (run_items or _run_items)(batch)
    finally:
        undo()
    return record_end(batch, started)


def providers_for(crew: Crew) -> dict[str, Provider] | None:
    """One client per endpoint for every run of the batch; None when a model is offline: an
    offline script counts turns per run, so each run makes its own.

    Raises:
        MissingKey: a model's key variable is unset.
    """
    models = build_models(crew.spec, offline=False)
    if any(model.provider == "offline" for model in models.values()):
        return None
    return open_providers(crew, models, None)


async def _run_items(batch: Pass) -> None:
    slots = asyncio.Semaphore(max(1, batch.options.concurrency))
    running: set[asyncio.Task[None]] = set()
    for item in fresh(batch):
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


def fresh(batch: Pass) -> Iterator[Item]:
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


async def _run_item(batch: Pass, item: Item) -> None:
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
    record_item(batch, item, result, probe)
    batch.progress(tally)


async def rerun_item(crew: Crew, options: RunOptions, earlier: str | None) -> RunResult:
    """Run one item; `earlier` is the id of its last run when an earlier pass of the batch left
    it unfinished (failed, stopped, interrupted, killed), else None.

    An unfinished item is resumed as `mas resume RUN_ID` resumes a run: tasks that ended ok
    kept, recorded model calls replayed at no cost, side effects not made again. It goes on
    from the last run of its chain: a run resumed by hand (`mas resume RUN_ID`) made side
    effects that the run before it does not know of. An item whose earlier run is gone or
    unreadable runs afresh.

    Raises:
        UsageError: another process is resuming the item's run, or runs its last run (the
            item fails, saying so).
    """
    if earlier is None:
        return await run_crew(crew, options)
    last = last_of_chain(options.home / "runs", earlier)
    if is_running(options.home / "runs" / last):  # a hand resume in flight: never run beside it
        raise UsageError(
            f"run {last} of this item is still running (a mas resume of it?)",
            hint="let it end, then resume the batch again",
        )
    try:
        loaded, resumed = prepare_resume(options.home, last, ResumeOptions(crew=crew.path), options)
    except UsageError:  # its run is gone or unreadable, or the crew changed since
        return await run_crew(crew, options)
    assert resumed.resume is not None  # prepare_resume names the run continued
    with claimed(resumed.resume):  # a hand resume in flight, or one that ran meanwhile
        return await run_crew(loaded, resumed)


def _run_options(batch: Pass, item: Item, probe: Probe) -> RunOptions:
    shared = replace(batch.shared, batch_id=batch.folder.batch_id, item_key=item.key)
    return RunOptions(
        batch.options.home, item.inputs, batch.options.offline, (probe,), shared=shared
    )


def _install_stops(batch: Pass) -> Callable[[], None]:
    """Ctrl-C and SIGTERM: start no item, and interrupt the runs in flight."""
    loop = asyncio.get_running_loop()
    stop = batch.shared.stop
    assert stop is not None

    def on_signal(name: str) -> None:
        batch.interrupted.append(name)
        stop.set()

    signals = answered()
    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig.name)

    def undo() -> None:
        for sig in signals:
            loop.remove_signal_handler(sig)

    return undo


__all__ = [
    "BatchOptions",
    "BatchResult",
    "Progress",
    "Tally",
    "dead",
    "rerun_item",
    "result_line",
    "run_batch",
]
