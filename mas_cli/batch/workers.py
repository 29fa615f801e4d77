"""A local batch across worker processes (`mas batch --workers N`): one process runs items on
one core; N workers (worker.py) use N.

This process stays the batch: it reads the items (streamed, as ever), skips the done and the
repeated, hands each to the least busy worker (`concurrency` in flight over all of them), and
writes every results line and dead letter, the counters and batch.json, so a resume finds
the folder as a batch of one process leaves it. It holds the batch's budget for all workers
together: each model attempt in a worker holds its worst case in this ledger before it is made
(wire.LinkGate), exactly as runs of one process hold theirs. It keeps the breaker (it counts
every line) and relays a Ctrl-C or SIGTERM: the workers' runs end `interrupted`.

A worker that dies takes its runs in flight with it: their items are recorded failed (and
dead-lettered), so `mas resume BATCH_ID` runs them again. What it wrote to stderr is kept in
the batch folder as worker-N.err (an empty one is removed).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from mas_cli.batch.breaker import Probe, signature
from mas_cli.batch.folder import BatchFolder
from mas_cli.batch.items import Item
from mas_cli.batch.passes import Passes
from mas_cli.batch.records import BatchOptions, BatchResult, Pass, Progress, record_line
from mas_cli.batch.runner import batch_ledger, fresh, providers_for, run_all
from mas_cli.batch.shares import most_workers
from mas_cli.batch.wire import Message, receive, send
from mas_cli.engine.providers import close
from mas_cli.engine.shared import Shared
from mas_cli.errors import MasError
from mas_cli.spec.loader import Crew
from mas_cli.tools import load_tools


async def run_with_workers(
    crew: Crew,
    options: BatchOptions,
    folder: BatchFolder,
    *,
    passes: Passes | None = None,
    progress: Progress = lambda _tally: None,
) -> BatchResult:
    """runner.run_batch across `options.workers` processes; the same folder, the same promises.

    Raises:
        UsageError: the items file cannot be read.
        MissingKey, ToolError: refused before any item (a key not set, a tool that won't load).
    """
    passes = passes or Passes()
    load_tools(crew)  # what a worker would refuse, refused here once, before the batch begins
    if not options.offline:
        providers = providers_for(crew)  # a key not set: said here, not by every worker
        if providers is not None:
            await close(providers)
    shared = Shared(batch_ledger(options, passes), stop=asyncio.Event())
    pool = _Pool()
    return await run_all(crew, options, folder, shared, (passes, progress), run_items=pool.run)


class _Worker:
    """One worker process, its end of the line, and the items it runs."""

    def __init__(self, index: int, proc: asyncio.subprocess.Process, err: Path) -> None:
        self.index, self.proc, self.err = index, proc, err
        self.pending: dict[str, Item] = {}
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def submit(self, item: Item, earlier: str | None) -> None:
        self.pending[item.key] = item
        assert self.writer is not None
        send(
            self.writer, {"op": "item", "key": item.key, "inputs": item.inputs, "earlier": earlier}
        )

    def tell(self, message: Message) -> None:
        if self.writer is not None:
            send(self.writer, message)

    def hang_up(self) -> None:
        """Close this end of the line: the worker ends its runs and exits."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class _Pool:
    """The workers of one pass, and the holds their runs' attempts keep in the ledger."""

    def __init__(self) -> None:
        self.workers: list[_Worker] = []
        self.leases: dict[tuple[int, int], tuple[str, str, int, Decimal]] = {}
        self.slots = asyncio.Semaphore(1)
        self.idle = asyncio.Event()

    async def run(self, batch: Pass) -> None:
        """Start the workers, feed them the items, wait for the last line, end them."""
        self.slots = asyncio.Semaphore(max(1, batch.options.concurrency))
        count = max(1, batch.options.workers)
        if not batch.options.offline:  # offline, no call reaches a provider: no limit to share
            count = most_workers(batch.crew.spec, count)
        starts = (self._start(batch, i, count) for i in range(count))
        self.workers = list(await asyncio.gather(*starts))
        listeners = [asyncio.create_task(self._listen(batch, w)) for w in self.workers]
        relay = asyncio.create_task(self._relay_stop(batch))
        try:
            await self._feed(batch)
            while batch.tally.in_flight > 0:
                self.idle.clear()
                await self.idle.wait()
        finally:
            relay.cancel()
            for worker in self.workers:
                worker.tell({"op": "end"})
            await asyncio.gather(*listeners, return_exceptions=True)
            await asyncio.gather(*(self._ended(w) for w in self.workers))
        batch.progress(batch.tally)

    async def _feed(self, batch: Pass) -> None:
        for item in fresh(batch):
            await self.slots.acquire()
            alive = [w for w in self.workers if w.writer is not None]
            if not alive:
                batch.halted = (
                    "every batch worker process ended (see worker-N.err in the "
                    f"batch folder); fix the cause, then mas resume {batch.folder.batch_id}"
                )
            if batch.stopping:
                self.slots.release()
                batch.tally.held -= 1
                break
            worker = min(alive, key=lambda w: len(w.pending))
            batch.tally.in_flight += 1
            batch.tally.peak_in_flight = max(batch.tally.peak_in_flight, batch.tally.in_flight)
            worker.submit(item, batch.earlier.get(item.key))

    async def _start(self, batch: Pass, index: int, count: int) -> _Worker:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        err_path = batch.folder.path / f"worker-{index + 1}.err"
        with err_path.open("wb") as err, theirs:
            proc = await _spawn(theirs.fileno(), err)
        worker = _Worker(index, proc, err_path)
        worker.reader, worker.writer = await asyncio.open_unix_connection(sock=mine)
        setup = {
            "op": "setup",
            "crew": str(batch.crew.path.resolve()),
            "home": str(batch.options.home),
            "offline": batch.options.offline,
            "workers": count,
            "batch_id": batch.folder.batch_id,
            "budget": any(
                limit is not None
                for limit in (
                    batch.ledger.max_llm_calls,
                    batch.ledger.max_tokens,
                    batch.ledger.max_cost_usd,
                )
            ),
        }
        send(worker.writer, setup)
        ready = await receive(worker.reader)
        if ready is None or ready.get("op") != "ready":
            await self._ended(worker)
            raise MasError(f"a batch worker could not start: {_last_line(err_path)}")
        return worker

    async def _listen(self, batch: Pass, worker: _Worker) -> None:
        assert worker.reader is not None
        while (message := await receive(worker.reader)) is not None:
            op = message.get("op")
            if op == "admit":
                worker.tell(self._admit(batch, worker, message))
            elif op == "settle":
                self._settle(batch, worker, message)
            elif op == "release":
                held = self.leases.pop((worker.index, message["lease"]), None)
                if held is not None:
                    batch.ledger.release((held[2], held[3]))
            elif op == "done":
                self._done(batch, worker, message)
        self._lost(batch, worker)

    def _admit(self, batch: Pass, worker: _Worker, ask: Message) -> Message:
        agent, task, tokens, cost = ask["agent"], ask["task"], ask["tokens"], ask["cost"]
        hit = batch.ledger.check(agent, task, tokens, cost)
        if hit is None:
            self.leases[(worker.index, ask["id"])] = (agent, task, tokens, cost)
        return {"op": "grant", "id": ask["id"], "hit": hit, "lease": ask["id"]}

    def _settle(self, batch: Pass, worker: _Worker, message: Message) -> None:
        held = self.leases.pop((worker.index, message["lease"]), None)
        if held is not None:
            agent, task, tokens, cost = held
            batch.ledger.settle(agent, task, message["tokens"], message["cost"], (tokens, cost))

    def _done(self, batch: Pass, worker: _Worker, message: Message) -> None:
        calls, tokens, cost = message["spent"]  # no budget: what calls spent, told with lines
        batch.ledger.llm_calls += calls
        batch.ledger.tokens += tokens
        batch.ledger.cost_usd += cost
        item = worker.pending.pop(message["key"], None)
        if item is None:
            return
        self._record(batch, item, message["line"], message["how"], bool(message["dead"]))

    def _lost(self, batch: Pass, worker: _Worker) -> None:
        """The worker's line closed: its items still in flight are failed (resume runs them)."""
        worker.hang_up()
        why = f"its batch worker process ended before the item did (see {worker.err.name})"
        for item in list(worker.pending.values()):
            line = _failed_line(item.key, why)
            self._record(batch, item, line, signature(Probe(), why), True)
        worker.pending.clear()

    def _record(self, batch: Pass, item: Item, line: dict[str, Any], how: str, dead: bool) -> None:
        batch.tally.in_flight -= 1
        record_line(batch, item, line, how, dead)
        batch.progress(batch.tally)
        self.slots.release()
        self.idle.set()

    async def _relay_stop(self, batch: Pass) -> None:
        stop = batch.shared.stop
        assert stop is not None
        await stop.wait()
        for worker in self.workers:
            worker.tell({"op": "stop"})

    async def _ended(self, worker: _Worker) -> None:
        worker.hang_up()
        try:
            await asyncio.wait_for(worker.proc.wait(), 30)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                worker.proc.kill()
            await worker.proc.wait()
        with contextlib.suppress(OSError):
            if worker.err.stat().st_size == 0:
                worker.err.unlink()


async def _spawn(fd: int, err: IO[bytes]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mas_cli.batch.worker",
        str(fd),
        pass_fds=(fd,),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=err,
        start_new_session=True,  # a Ctrl-C at the terminal is the batch's to relay
    )


def _failed_line(key: str, why: str) -> dict[str, Any]:
    line = {"key": key, "run_id": None, "status": "failed", "output": None, "cost_usd": 0.0}
    return {**line, "error": why}


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        lines = []
    return lines[-1] if lines else "it exited without saying why"
