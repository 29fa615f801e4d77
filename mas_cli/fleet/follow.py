"""Follow a batch workflow's history: each item that ends is written into the submitter's home
as an in-process batch writes it (its runs under runs/, its results.jsonl line, its dead
letter), the progress display is told, and batch.json is written whole at the end.

Everything comes from the history the server keeps, run after run of the workflow (it continues
as new as its history grows, fleet/workflow.py): an activity's result is the item's outcome and
runs, so following it again (a re-attach, `mas batch status`) writes what is
missing and nothing twice (an item already in results.jsonl is passed over). Two followers may
run at once (`mas batch status` beside the submitter): each item is written by the first to
claim it, under a lock on results.jsonl, after reading what the other has appended.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mas_cli.batch.folder import DEAD, RESULTS, BatchFolder, BatchStatus, latest_results, now_iso
from mas_cli.batch.passes import line_spend
from mas_cli.batch.runner import BatchResult, Progress, Tally
from mas_cli.errors import MasError
from mas_cli.fleet.messages import ItemDone, ItemTask, Status
from mas_cli.fleet.runfiles import write_runs

if sys.platform != "win32":  # no flock there: a follower reads the others' lines, unlocked
    import fcntl


@dataclass
class Books:
    """Where a followed batch is written: its folder, its batch.json, its counters."""

    folder: BatchFolder
    info: dict[str, Any]
    tally: Tally
    progress: Progress


@dataclass
class Recorded:
    """The keys results.jsonl holds, as far as this follower has read it."""

    path: Path
    keys: set[str] = field(default_factory=set)
    offset: int = 0
    before: frozenset[str] = frozenset()
    """The keys it held when this follower began (counted already: an attach's tally)."""

    def __post_init__(self) -> None:
        with self._locked():
            self.before = frozenset(self.keys)

    @contextmanager
    def claim(self, key: str) -> Iterator[bool]:
        """Whether `key` is still to be written, and by this follower: held (locked) until
        the block has written it."""
        with self._locked():
            mine = key not in self.keys
            yield mine
            if mine:
                self.keys.add(key)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the lock on results.jsonl, its new lines read."""
        fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if sys.platform != "win32":
                with suppress(OSError):  # a file system without locks: read, unlocked
                    fcntl.flock(fd, fcntl.LOCK_EX)
            self._read(fd)
            yield
        finally:
            os.close(fd)  # the lock goes with it

    def _read(self, fd: int) -> None:
        """The keys of the whole lines appended since the last read."""
        from mas_cli.events.text import loads

        os.lseek(fd, self.offset, os.SEEK_SET)
        data = b""
        while chunk := os.read(fd, 1 << 20):
            data += chunk
        whole = data[: data.rfind(b"\n") + 1]
        self.offset += len(whole)
        for raw in whole.splitlines():
            try:
                record = loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("key"), str):
                self.keys.add(record["key"])


async def follow(client: Any, handle: Any, books: Books, *, wait: bool = True) -> BatchResult:
    """Record every item ended so far; with `wait`, go on until the workflow ends and record
    its end in batch.json."""
    folder, tally = books.folder, books.tally
    recorded = Recorded(folder.path / RESULTS)
    run_id: str | None = books.info.get("first_run_id")  # None: batch.json from before it
    while True:
        run = client.get_workflow_handle(handle.id, run_id=run_id)
        run_id = await _follow_run(client, run, books, recorded, wait=wait)
        if run_id is None:
            break
    if not wait:
        return BatchResult(folder.batch_id, folder.path, "running", None, tally)
    from temporalio.client import WorkflowFailureError

    try:
        status: Status = await handle.result()
    except WorkflowFailureError as exc:  # terminated, cancelled or timed out on the service
        return finish(books, _cut_short(books, exc))
    return finish(books, status)


def _cut_short(books: Books, exc: Exception) -> Status:
    """The end of a workflow that ended without a result, as a stopped batch's."""
    cause = exc.__cause__ or exc
    how = type(cause).__name__.removesuffix("Error").lower() or "ended"
    said = str(cause).strip()
    reason = (
        f"batch stopped: its workflow on Temporal was {how}"
        + (f" ({said})" if said and said != how else "")
        + "; the items it never ran are in dead.jsonl: run them as a new batch "
        "(mas batch CREW --inputs dead.jsonl)"
    )
    return Status(reason=reason, cost_usd=books.tally.cost_usd)


async def _follow_run(
    client: Any, run: Any, books: Books, recorded: Recorded, *, wait: bool
) -> str | None:
    """Record the items one run of the workflow ended; the run it continued as, if any."""
    from temporalio.api.enums.v1 import EventType

    folder, tally = books.folder, books.tally
    scheduled: dict[int, ItemTask] = {}  # event ids are a run's own
    decode = client.data_converter.decode
    async for event in run.fetch_history_events(wait_new_event=wait):
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            [task] = await decode(attrs.input.payloads, [ItemTask])
            scheduled[event.event_id] = task
            tally.in_flight += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attrs = event.activity_task_completed_event_attributes
            [done] = await decode(attrs.result.payloads, [ItemDone])
            _ended(folder, tally, scheduled.pop(attrs.scheduled_event_id, None), recorded, done)
        elif kind in (
            EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        ):
            attrs = _attributes(event)
            task = scheduled.pop(attrs.scheduled_event_id, None)
            _ended(folder, tally, task, recorded, _lost(task, attrs.failure.message))
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            tally.in_flight = 0  # a run continues as new with no item in flight
            attrs = event.workflow_execution_continued_as_new_event_attributes
            return str(attrs.new_execution_run_id)
        else:
            continue
        books.progress(tally)
    return None


def _attributes(event: Any) -> Any:
    if event.HasField("activity_task_failed_event_attributes"):
        return event.activity_task_failed_event_attributes
    return event.activity_task_timed_out_event_attributes


def _lost(task: ItemTask | None, message: str) -> ItemDone:
    """An item out of retries (every worker that took it was lost, or it kept crashing)."""
    key = task.key if task else "?"
    error = f"the item failed on every worker that took it: {message}"
    line = {"key": key, "run_id": None, "status": "failed", "output": None, "cost_usd": 0.0}
    return ItemDone({**line, "error": error}, True, "worker", task.inputs if task else {})


def _ended(
    folder: BatchFolder,
    tally: Tally,
    task: ItemTask | None,
    recorded: Recorded,
    done: ItemDone,
) -> None:
    tally.in_flight = max(0, tally.in_flight - 1)
    key = str(done.line.get("key"))
    if task is None:
        return
    with recorded.claim(key) as mine:
        if mine:
            write_runs(folder.path.parent.parent, done.runs)
            folder.result(done.line)
            if done.dead:
                reason = done.line.get("error") or done.line["status"]
                folder.dead_letter(key, reason, done.inputs)
    if not mine and key in recorded.before:
        return  # recorded before this follower began: counted in its tally already
    tally.add(done.line.get("status"), float(line_spend(done.line).known_cost))


def finish(books: Books, status: Status) -> BatchResult:
    """batch.json at the batch's end: how it ended, its counts, what the workers spent; a
    batch that stopped puts the items it never ran in dead.jsonl, ready to be fed back."""
    folder, info, tally = books.folder, books.info, books.tally
    if status.reason and info.get("status") == "running":  # listed once, by the first to end it
        _not_run(books, status.reason, status.fed)
    verdict: BatchStatus = "stopped" if status.reason else "finished"
    tally.duplicates = status.duplicates
    tally.cost_usd = status.cost_usd
    info.update(
        finished=now_iso(),
        status=verdict,
        reason=status.reason,
        counts=tally.counts(),
        cost_usd=round(status.cost_usd, 8),
        llm_calls=status.llm_calls,
    )
    folder.write_info(info)
    return BatchResult(folder.batch_id, folder.path, verdict, status.reason, tally)


def _not_run(books: Books, reason: str, fed: int) -> None:
    """The items never run, and the unreadable lines past the last page the workflow took
    (the feed writes those of the pages taken)."""
    from mas_cli.batch.items import BadLine, Item, read_items
    from mas_cli.spec.loader import load_crew

    done = set(latest_results(books.folder.path)) | _dead_keys(books.folder.path)
    try:
        crew = load_crew(Path(str(books.info.get("crew_path", ""))))
        items = Path(str(books.info.get("inputs_path", "")))
        key = (books.info.get("options") or {}).get("key")
        for item in read_items(items, crew.spec, key):
            if isinstance(item, Item) and item.key not in done:
                done.add(item.key)
                books.folder.dead_letter(item.key, f"not run: {reason}", item.inputs)
            elif isinstance(item, BadLine) and item.line > fed and item.key not in done:
                done.add(item.key)
                books.folder.dead_letter(item.key, item.reason, item.inputs)
    except MasError:  # the crew or the items file moved since: nothing to list
        return


def _dead_keys(folder: Path) -> set[str]:
    """The keys dead.jsonl lists already."""
    from mas_cli.events.text import loads

    keys: set[str] = set()
    with suppress(OSError), (folder / DEAD).open("rb") as handle:
        for raw in handle:
            with suppress(ValueError):
                record = loads(raw)
                if isinstance(record, dict) and isinstance(record.get("key"), str):
                    keys.add(record["key"])
    return keys
