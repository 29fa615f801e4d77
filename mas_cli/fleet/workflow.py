"""The batch as a Temporal workflow: it takes the items the submitter feeds it, runs each as an
activity on whichever worker polls the task queue (retried elsewhere when a worker is lost),
and governs the budget and rates every worker leases from (fleet/governor.py).

Deterministic, as Temporal requires: no clock but workflow.now(), no I/O. It keeps in memory
only the items not yet started (a page at a time, fed by the submitter) and the recordings of
the items in flight (what a retry resumes from); an item's results travel in its activity's
result, which the submitter reads back from the history.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from mas_cli.batch.breaker import Breaker
    from mas_cli.fleet.governor import Governor
    from mas_cli.fleet.messages import (
        ACTIVITY,
        WORKFLOW,
        BatchStart,
        Chunk,
        Exchange,
        Grant,
        ItemDone,
        ItemIn,
        ItemTask,
        Page,
        Recording,
        Status,
    )

# Temporal ends a workflow whose history passes 51,200 events; each item adds some tens (its
# activity, and an update per model call and side effect). Past this, no new item starts.
HISTORY_STOP = 40_000
HEARTBEAT_S = 10.0  # a worker silent this long is lost: its item is retried elsewhere
ITEM_TIMEOUT = timedelta(hours=6)
RETRIES = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=6,
)


@workflow.defn(name=WORKFLOW, sandboxed=False)  # deterministic by construction: no I/O, no clock
class BatchWorkflow:
    """One batch: its queue of items, its counters, its governor and breaker."""

    @workflow.init
    def __init__(self, start: BatchStart) -> None:
        self.start = start
        self.governor = Governor(start.budget, start.rates)
        self.breaker = Breaker(threshold=start.breaker)
        self.queue: deque[ItemIn] = deque()
        self.keys: set[str] = set()
        self.recordings: dict[str, dict[tuple[str, str, int], Chunk]] = {}
        self.status = Status()
        self.started = 0

    @workflow.run
    async def run(self, start: BatchStart) -> Status:  # noqa: ARG002 (kept by __init__)
        """Start items as slots free up until every item fed has ended or the batch stops."""
        while True:
            await workflow.wait_condition(lambda: self._can_start() or self._ended())
            if self._ended():
                break
            item = self.queue.popleft()
            self.status.running += 1
            self.started += 1
            asyncio.create_task(self._run_item(item, self.started))  # noqa: RUF006
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status(done=True)

    def _stopping(self) -> str | None:
        if self.breaker.tripped:
            return self.breaker.tripped
        events = workflow.info().get_current_history_length()
        if events > HISTORY_STOP:
            return (
                f"batch stopped: its Temporal history is nearly full ({events:,} events after "
                f"{self.started:,} items); the items not run are in dead.jsonl: run them as a "
                "new batch (mas batch CREW --inputs dead.jsonl)"
            )
        hit = self.governor.hit
        if hit is not None:
            shown = f"{hit.value:,.6g}"
            return (
                f"batch stopped: {hit.kind} {hit.threshold:g} would be passed ({shown}) "
                f"by the workers together; finish it with: mas resume {self.start.batch_id}"
            )
        return None

    def _can_start(self) -> bool:
        slots = self.status.running < max(1, self.start.concurrency)
        return bool(self.queue) and slots and self._stopping() is None

    def _ended(self) -> bool:
        if self.status.running:
            return False
        return self._stopping() is not None or (self.status.closed and not self.queue)

    async def _run_item(self, item: ItemIn, number: int) -> None:
        task = ItemTask(
            self.start.batch_id, self.start.crew, item.key, item.inputs, self.start.offline
        )
        try:
            done = await workflow.execute_activity(
                ACTIVITY,
                task,
                result_type=ItemDone,
                activity_id=f"item-{number}",
                start_to_close_timeout=ITEM_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=HEARTBEAT_S),
                retry_policy=RETRIES,
            )
            self._count(str(done.line.get("status")), done.how, done.line.get("error"))
        except ActivityError as exc:  # out of retries: the submitter records it failed
            self._count("failed", "worker", str(exc.cause or exc))
        finally:
            self.status.running -= 1
            self.recordings.pop(item.key, None)

    def _count(self, status: str, how: str, reason: str | None) -> None:
        if status == "ok":
            self.status.ok += 1
            self.breaker.ok()
        elif status == "failed":
            self.status.failed += 1
            self.breaker.failed(how, reason, self.start.batch_id)
        else:
            self.status.stopped += 1

    @workflow.update
    def feed(self, page: Page) -> int:
        """Take a page of items (a key seen before is a duplicate); the items fed so far."""
        for item in page.items:
            if item.key in self.keys:
                self.status.duplicates += 1
                continue
            self.keys.add(item.key)
            self.queue.append(item)
        self.status.fed = max(self.status.fed, page.fed)
        self.status.closed = self.status.closed or page.last
        return self.status.fed

    @workflow.update
    def exchange(self, exchange: Exchange) -> list[Grant]:
        """A worker's settlements, recordings and leases asked (see fleet/governor.py); a
        grant for each ask, in order."""
        for settle in exchange.settles:
            self.governor.settle(settle)
        for recording in exchange.recordings:
            self._keep(recording)
        now = workflow.now().timestamp()
        return [self.governor.lease(ask, now) for ask in exchange.asks]

    def _keep(self, recording: Recording) -> None:
        """Keep new lines of an item's logs (from its current attempt; each chunk once)."""
        if recording.attempt < self.governor.attempts.get(recording.item, 0):
            return
        kept = self.recordings.setdefault(recording.item, {})
        for chunk in recording.chunks:
            kept.setdefault((chunk.run_id, chunk.name, chunk.at), chunk)

    @workflow.update
    def recover(self, recording: Recording) -> list[Chunk]:
        """A worker starts attempt `recording.attempt` of an item: what its earlier attempts
        recorded (from then on they lease nothing)."""
        self.governor.attempt(recording.item, recording.attempt)
        return list(self.recordings.get(recording.item, {}).values())

    @workflow.query
    def state(self) -> Status:
        """How the batch stands."""
        return self._status(done=False)

    def _status(self, *, done: bool) -> Status:
        """The counters, with the governor's spend (a copy: a query changes nothing)."""
        return replace(
            self.status,
            llm_calls=self.governor.spent_calls,
            cost_usd=float(self.governor.cost + self.governor.held_cost),
            held_usd=float(self.governor.held_cost),
            reason=self._stopping(),
            done=done,
        )
