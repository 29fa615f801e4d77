"""Feeding a batch's items to its workflow, and asking the workflow how the batch stands.

The workflow holds only a few pages of items not yet started: the submitter (or `mas resume`)
sends each page once there is room for it. An unreadable line gets its dead letter once the
page it was read with is taken, so a feed stopped and started again never lists it twice.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from mas_cli.batch.items import BadLine, read_items
from mas_cli.errors import MasError
from mas_cli.fleet.follow import Books
from mas_cli.fleet.link import RETRY_S, given_back
from mas_cli.fleet.messages import ItemIn, Page, Status
from mas_cli.spec.loader import Crew

QUERY_WAIT = timedelta(seconds=15)  # a worker answers a query at once; none polls: say so
PAGE = 200  # items a feed update carries (a few hundred KB at most: well under a payload's 2 MB)


async def feed(
    handle: Any, crew: Crew, books: Books, *, key: str | None, after: int, wait: bool = True
) -> bool:
    """Send the items after line `after` to the workflow, a page at a time, each once there is
    room for it (`wait`) or while there is; unreadable lines go to dead.jsonl here once the
    page they were read with is taken (a page not taken is read again by the next feed, or
    listed when the batch stops), repeated keys are counted and passed over. Whether every
    item was fed (False: the workflow had no room without waiting, or it ended).

    Raises:
        MasError: the workflow did not answer, after retries.
    """
    page: list[ItemIn] = []
    bad: list[BadLine] = []
    line, repeats = after, 0
    seen: set[str] = set()
    items = Path(str(books.info["inputs_path"]))
    for item in read_items(items, crew.spec, key):
        line = item.line
        if isinstance(item, BadLine):
            if item.line > after:
                bad.append(item)
        elif item.key in seen:
            repeats += int(item.line > after)
            continue
        elif item.line > after:
            seen.add(item.key)
            page.append(ItemIn(item.key, item.line, item.inputs))
        else:
            seen.add(item.key)
        if len(page) + len(bad) >= PAGE:
            if not await _offer(handle, Page(page, line, False, repeats, wait), books, bad):
                return False
            page, bad, repeats = [], [], 0
    return await _offer(handle, Page(page, line, True, repeats, wait), books, bad)


async def _offer(handle: Any, page: Page, books: Books, bad: list[BadLine]) -> bool:
    """Send a page; its bad lines get their dead letters once it is taken, or once a detach
    stops waiting for it (the server holds it, and the workflow takes it when a worker runs)."""
    try:
        taken = await _send(handle, page)
    except asyncio.CancelledError:
        if not page.wait:
            _dead_letters(books, bad)
        raise
    if taken:
        _dead_letters(books, bad)
    return taken


def _dead_letters(books: Books, bad: list[BadLine]) -> None:
    for item in bad:
        books.folder.dead_letter(item.key, item.reason, item.inputs)
        books.tally.dead += 1


async def _send(handle: Any, page: Page) -> bool:
    """One page to the workflow, sent again after a failure (the workflow takes it once):
    whether it was taken (False: no room now, or the workflow has ended)."""
    from temporalio.client import RPCError, RPCTimeoutOrCancelledError, WorkflowUpdateFailedError

    for pause in (*RETRY_S, None):
        try:
            fed: int = await handle.execute_update("feed", page, result_type=int)
            return fed >= page.fed
        except (RPCError, WorkflowUpdateFailedError, RPCTimeoutOrCancelledError) as exc:
            given_back()  # a Ctrl-C, not a timeout
            try:
                if await workflow_state(handle) is None:
                    return False  # it ended (stopped): the items not fed are listed as not run
            except (RPCError, MasError):
                pass
            if pause is None:
                raise MasError(
                    f"the batch workflow {handle.id} did not take the items: {exc}",
                    hint=f"see how it stands: mas batch status {handle.id}",
                ) from None
            await asyncio.sleep(pause)
    raise AssertionError("unreachable")


class Unanswered(MasError):
    """The batch's workflow runs, but no worker answered for it (a query needs a worker)."""


async def workflow_state(handle: Any, info: dict[str, Any] | None = None) -> Status | None:
    """The workflow's own account of the batch while it runs; None once it has ended.

    Raises:
        MasError: the service has no such workflow (a development server restarted).
        Unanswered: it runs, but no worker polls its task queue to answer for it.
    """
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError, RPCStatusCode

    where = (info or {}).get("temporal") or {}
    try:
        described = await handle.describe()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        raise MasError(
            f"batch {handle.id}: Temporal at {where.get('address', '?')} has no such workflow "
            "(a development server keeps nothing across a restart)",
            hint="the items it ended are in the batch's results.jsonl; run the others as a "
            "new batch",
        ) from None
    if described.status != WorkflowExecutionStatus.RUNNING:
        return None
    try:
        state: Status = await handle.query("state", result_type=Status, rpc_timeout=QUERY_WAIT)
    except RPCError:  # the server asks a worker, and none polls the task queue
        queue, crew = where.get("task_queue", "?"), (info or {}).get("crew_path", "CREW.yaml")
        raise Unanswered(
            f"batch {handle.id} runs on Temporal, but no worker answered for it",
            hint=f"start one on its task queue: mas worker {crew} --task-queue {queue} "
            f"--address {where.get('address', '?')} --namespace {where.get('namespace', '?')}",
        ) from None
    return state
