"""`mas batch --engine temporal`: start the batch workflow, feed it the items while following
it (fleet/follow.py), or detach; `mas resume BATCH_ID` and `mas batch status BATCH_ID` attach
again. The workflow holds only a few pages of items not yet started: the submitter feeds each
page once there is room (a detached submitter feeds what fits now; an attach feeds the rest).
The batch folder is the one an in-process batch has: batch.json (which also says where the
workflow runs and its first run), results.jsonl and dead.jsonl, and each item's runs under
the home's runs/.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from mas_cli.batch.folder import (
    BatchFolder,
    batches_dir,
    file_lines,
    latest_results,
    new_batch_id,
    now_iso,
    read_info,
)
from mas_cli.batch.runner import BatchOptions, BatchResult, Progress, Tally
from mas_cli.engine.stops import answered
from mas_cli.errors import MasError, UsageError
from mas_cli.fleet.connect import Where, connect
from mas_cli.fleet.feed import feed, workflow_state
from mas_cli.fleet.follow import Books, follow
from mas_cli.fleet.messages import (
    WORKFLOW,
    BatchStart,
    Budget,
    Rate,
    Status,
    crew_digest,
)
from mas_cli.spec.loader import Crew

# A workflow task replays the whole history on a worker that did not have it cached (after a
# worker was lost): give it time on a loaded machine (Temporal's default is 10 s).
TASK_TIMEOUT = timedelta(seconds=60)
DETACH_WAIT = timedelta(seconds=20)  # --detach: how long a worker has to take the first page
CONTINUE_AT = 10_000  # history events after which the workflow continues as new
CONTINUE_ENV = "MAS_TEMPORAL_CONTINUE_AT"  # lowers it (tests), or raises it up to HISTORY_STOP


def submit_batch(
    crew: Crew, options: BatchOptions, where: Where, progress: Progress, *, detach: bool
) -> BatchResult:
    """Start the batch on Temporal; follow it to its end unless `detach`.

    Raises:
        UsageError: the items file cannot be read, or the service cannot be reached.
        Detached: Ctrl-C or SIGTERM while following (the batch runs on; `mas resume
            BATCH_ID` attaches again).
    """
    if not options.items.is_file():
        raise UsageError(f"{options.items}: no such file", hint="give a .jsonl or .csv of items")
    batch_id = new_batch_id()
    return _run(batch_id, _submit(crew, options, where, progress, batch_id, detach=detach))


def attach_batch(path: Path, progress: Progress) -> BatchResult:
    """Follow a batch running on Temporal again: feed the rest of its items if its submitter
    stopped before it had fed them all, record every item ended, and wait for its end."""
    return _run(path.name, _attach(path, progress))


class Detached(Exception):
    """Ctrl-C or SIGTERM while following: the batch runs on, on the workers."""

    def __init__(self, batch_id: str) -> None:
        super().__init__(batch_id)
        self.batch_id = batch_id


def _run(batch_id: str, work: Coroutine[Any, Any, BatchResult]) -> BatchResult:
    with lost_service(batch_id):
        return asyncio.run(_detachable(batch_id, work))


@contextmanager
def lost_service(batch_id: str) -> Iterator[None]:
    """The service gone while the batch is followed (down, restarted, unreachable), once the
    SDK's own retries gave up: said so, with how to follow the batch again.

    Raises:
        MasError: the service stopped answering.
    """
    from temporalio.service import RPCError

    try:
        yield
    except RPCError as exc:
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        raise MasError(
            f"lost Temporal while following batch {batch_id}: {lines[0][:300]}",
            hint=f"the batch lives in the workflow: once the service answers, follow it again "
            f"with mas resume {batch_id} (a development server keeps nothing across a restart)",
        ) from None


async def _detachable(batch_id: str, work: Coroutine[Any, Any, BatchResult]) -> BatchResult:
    """Run `work`; Ctrl-C or SIGTERM leaves it (raising Detached)."""
    loop, detached = asyncio.get_running_loop(), asyncio.Event()
    signals = answered()
    for sig in signals:
        loop.add_signal_handler(sig, detached.set)
    task, waiting = asyncio.create_task(work), asyncio.create_task(detached.wait())
    try:
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    waiting.cancel()
    if task.done():
        return task.result()
    await ended(task)
    raise Detached(batch_id)


async def ended(*tasks: asyncio.Task[Any]) -> None:
    """Cancel `tasks` and let them end. The SDK turns the cancel of an update in flight into
    WorkflowUpdateRPCTimeoutOrCancelledError: a task left to end on its own would print it,
    with a traceback, as Python exits."""
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=10)  # a cancelled RPC ends at once; never hang a Ctrl-C
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # taken: asyncio reports an exception never taken


async def _submit(
    crew: Crew, options: BatchOptions, where: Where, progress: Progress, batch_id: str,
    *, detach: bool,
) -> BatchResult:  # fmt: skip
    threshold = continue_at()  # a bad value is refused before anything is made
    client = await connect(where)
    folder = BatchFolder(batches_dir(options.home) / batch_id)
    queue = where.queue(crew.spec.name)
    info = _info(crew, options, folder.batch_id, where, queue)
    start = BatchStart(
        folder.batch_id, crew.spec.name, options.concurrency, options.breaker, options.offline,
        Budget(options.max_cost_usd, options.max_llm_calls, options.max_tokens),
        [Rate(key, r.rpm, r.tpm) for key, r in crew.spec.rate_limits.items()],
        threshold,
        crew_digest=crew_digest(crew.spec.model_dump(mode="json")),
    )  # fmt: skip
    try:
        handle = await client.start_workflow(
            WORKFLOW, start, id=folder.batch_id, task_queue=queue, result_type=Status,
            task_timeout=TASK_TIMEOUT,
        )  # fmt: skip
    except Exception as exc:
        folder.close()
        shutil.rmtree(folder.path, ignore_errors=True)
        raise UsageError(f"Temporal refused the batch: {exc}") from None
    info["first_run_id"] = handle.result_run_id  # where following its runs begins
    folder.write_info(info)
    tally = Tally(total=file_lines(options.items))
    with folder:
        books = Books(folder, info, tally, progress)
        if detach:
            return await _detach(handle, crew, books, key=options.key, where=where, queue=queue)
        return await feed_and_follow(client, handle, crew, books, key=options.key, after=0)


async def _detach(
    handle: Any, crew: Crew, books: Books, *, key: str | None, where: Where, queue: str
) -> BatchResult:
    """Feed what the workflow takes now, and return. The workflow takes a page only once a
    worker runs it: with none on the queue, return after DETACH_WAIT (the page sent is
    applied when one comes, and `mas resume` feeds the rest)."""
    folder, tally = books.folder, books.tally
    try:
        whole = await asyncio.wait_for(
            feed(handle, crew, books, key=key, after=0, wait=False), DETACH_WAIT.total_seconds()
        )
        rest = None if whole else _UNFED.format(batch_id=folder.batch_id)
    except TimeoutError:
        rest = _NO_WORKER.format(
            batch_id=folder.batch_id, wait=DETACH_WAIT.total_seconds(), crew=crew.path,
            queue=queue, address=where.address, namespace=where.namespace,
        )  # fmt: skip
    books.progress(tally)
    return BatchResult(folder.batch_id, folder.path, "running", rest, tally)


_UNFED = (
    "the workflow took the items that fit now; the rest are fed while a submitter follows "
    "it: mas resume {batch_id}"
)
_NO_WORKER = (
    "no worker took the batch's first items within {wait:g} s: it waits for one; start one "
    "(mas worker {crew} --task-queue {queue} --address {address} --namespace {namespace}), "
    "then feed it the rest with: mas resume {batch_id}"
)


async def feed_and_follow(
    client: Any, handle: Any, crew: Crew, books: Books, *, key: str | None, after: int
) -> BatchResult:
    """Feed the items after line `after` while following the batch to its end."""
    feeding = asyncio.create_task(feed(handle, crew, books, key=key, after=after))
    following = asyncio.create_task(follow(client, handle, books))
    try:
        await asyncio.wait({feeding, following}, return_when=asyncio.FIRST_COMPLETED)
        if feeding.done() and feeding.exception() is not None:
            following.cancel()
            feeding.result()  # raises what stopped the feed
        return await following
    finally:
        await ended(feeding, following)


def continue_at() -> int:
    """The history length a run of the batch workflow continues as new at.

    Raises:
        UsageError: MAS_TEMPORAL_CONTINUE_AT is not a whole number in range.
    """
    from mas_cli.fleet.workflow import HISTORY_STOP

    text = os.environ.get(CONTINUE_ENV, "").strip()
    if not text:
        return CONTINUE_AT
    if not text.isdigit() or not 100 <= int(text) <= HISTORY_STOP - 5_000:
        raise UsageError(
            f"{CONTINUE_ENV}={text}: not a number of history events mas can continue at",
            hint=f"give a whole number from 100 to {HISTORY_STOP - 5_000:,}, or unset it",
        )
    return int(text)


def _info(
    crew: Crew, options: BatchOptions, batch_id: str, where: Where, queue: str
) -> dict[str, Any]:
    return {
        "batch_id": batch_id,
        "crew": crew.spec.name,
        "crew_path": str(crew.path.resolve()),
        "inputs_path": str(options.items.resolve()),
        "options": options.to_json(),
        "engine": "temporal",
        "temporal": {"address": where.address, "namespace": where.namespace, "task_queue": queue},
        "started": now_iso(),
        "finished": None,
        "status": "running",
        "reason": None,
        "pid": None,  # the batch lives in the workflow, not in this process
    }


async def _attach(path: Path, progress: Progress) -> BatchResult:
    from mas_cli.spec.loader import load_crew

    info = read_info(path)
    where = Where(**info.get("temporal", {}))
    client = await connect(where)
    handle = client.get_workflow_handle(path.name, result_type=Status)
    tally = Tally(total=file_lines(Path(str(info.get("inputs_path", "")))))
    for record in latest_results(path).values():
        tally.add(record.get("status"))
    with BatchFolder(path) as folder:
        books = Books(folder, info, tally, progress)
        state = await workflow_state(handle, info)
        if state is not None and not state.closed:
            crew = load_crew(Path(str(info.get("crew_path", ""))))
            key = (info.get("options") or {}).get("key")
            return await feed_and_follow(client, handle, crew, books, key=key, after=state.fed)
        return await follow(client, handle, books)
