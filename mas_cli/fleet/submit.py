"""`mas batch --engine temporal`: start the batch workflow, feed it the items, then follow it
(fleet/follow.py) or detach; `mas resume BATCH_ID` and `mas batch status BATCH_ID` attach
again. The batch folder is the one an in-process batch has: batch.json (which also says where
the workflow runs), results.jsonl and dead.jsonl, and each item's runs under the home's runs/.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
from collections.abc import Coroutine
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
from mas_cli.batch.items import BadLine, read_items
from mas_cli.batch.runner import BatchOptions, BatchResult, Progress, Tally
from mas_cli.errors import UsageError
from mas_cli.fleet.connect import Where, connect
from mas_cli.fleet.follow import Books, follow
from mas_cli.fleet.messages import WORKFLOW, BatchStart, Budget, ItemIn, Page, Rate, Status
from mas_cli.spec.loader import Crew

# A workflow task replays the whole history on a worker that did not have it cached (after a
# worker was lost): give it time on a loaded machine (Temporal's default is 10 s).
TASK_TIMEOUT = timedelta(seconds=60)
PAGE = 200  # items a feed update carries (a few hundred KB at most: well under a payload's 2 MB)


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
    return asyncio.run(_detachable(batch_id, work))


async def _detachable(batch_id: str, work: Coroutine[Any, Any, BatchResult]) -> BatchResult:
    """Run `work`; Ctrl-C or SIGTERM leaves it (raising Detached)."""
    loop, detached = asyncio.get_running_loop(), asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, detached.set)
    task, waiting = asyncio.create_task(work), asyncio.create_task(detached.wait())
    try:
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    waiting.cancel()
    if task.done():
        return task.result()
    task.cancel()
    raise Detached(batch_id)


async def _submit(
    crew: Crew, options: BatchOptions, where: Where, progress: Progress, batch_id: str,
    *, detach: bool,
) -> BatchResult:  # fmt: skip
    client = await connect(where)
    folder = BatchFolder(batches_dir(options.home) / batch_id)
    queue = where.queue(crew.spec.name)
    info = _info(crew, options, folder.batch_id, where, queue)
    start = BatchStart(
        folder.batch_id, crew.spec.name, options.concurrency, options.breaker, options.offline,
        Budget(options.max_cost_usd, options.max_llm_calls, options.max_tokens),
        [Rate(key, r.rpm, r.tpm) for key, r in crew.spec.rate_limits.items()],
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
    folder.write_info(info)
    tally = Tally(total=file_lines(options.items))
    with folder:
        books = Books(folder, info, tally, progress)
        await feed(handle, crew, books, key=options.key, after=0)
        progress(tally)
        if detach:
            return BatchResult(folder.batch_id, folder.path, "running", None, tally)
        return await follow(client, handle, books)


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


async def feed(handle: Any, crew: Crew, books: Books, *, key: str | None, after: int) -> None:
    """Send the items after line `after` to the workflow, a page at a time; unreadable lines
    go to dead.jsonl here."""
    page: list[ItemIn] = []
    line = after
    folder, tally = books.folder, books.tally
    items = Path(str(books.info["inputs_path"]))
    for item in read_items(items, crew.spec, key):
        line = item.line
        if item.line <= after:
            continue
        if isinstance(item, BadLine):
            folder.dead_letter(item.key, item.reason, item.inputs)
            tally.dead += 1
            continue
        page.append(ItemIn(item.key, item.line, item.inputs))
        if len(page) >= PAGE:
            await handle.execute_update("feed", Page(page, line), result_type=int)
            page = []
    await handle.execute_update("feed", Page(page, line, last=True), result_type=int)


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
        state = await workflow_state(handle)
        if state is not None and not state.closed:
            crew = load_crew(Path(str(info.get("crew_path", ""))))
            key = (info.get("options") or {}).get("key")
            await feed(handle, crew, books, key=key, after=state.fed)
        return await follow(client, handle, books)


async def workflow_state(handle: Any) -> Status | None:
    """The workflow's own account of the batch while it runs; None once it has ended."""
    from temporalio.client import WorkflowExecutionStatus

    described = await handle.describe()
    if described.status != WorkflowExecutionStatus.RUNNING:
        return None
    state: Status = await handle.query("state", result_type=Status)
    return state
