"""The batch as a Temporal workflow: it takes the items the submitter feeds it, runs each as an
activity on whichever worker polls the task queue (retried elsewhere when a worker is lost),
and governs the budget and rates every worker leases from (fleet/governor.py).

Deterministic, as Temporal requires: no clock but workflow.now(), no I/O. It keeps in memory
only the items not yet started (at most FEED_AHEAD of them: the submitter's next page waits for
room) and the recordings of the items in flight (what a retry resumes from); an item's results
travel in its activity's result, which the submitter reads back from the history.

A batch of any size: Temporal ends a workflow whose history passes 51,200 events, and an item
adds some tens. When the history passes `BatchStart.continue_at` events (or the server suggests
it), the run starts no more items, lets those in flight end and its update handlers finish,
and continues as new with what must survive (messages.Carry): the governor's ledger, the
breaker, the counters and feed position, the items fed and not started. Items are drained
rather than handed over in flight: an activity belongs to its run, and its worker would run on
after the run closed, so a side effect could happen twice. Workers, the submitter and every
command address the workflow by its id, so they follow the new run.
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
        Carry,
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
# activity, and an update per model call and side effect). A run continues as new well before
# (BatchStart.continue_at); this stop is a last resort, for a run that could not drain in time.
HISTORY_STOP = 40_000
FEED_AHEAD = 600  # items fed and not started, at most (or twice the concurrency)
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
        self.recordings: dict[str, dict[tuple[str, str, int], Chunk]] = {}
        self.status = Status()
        self.started = 0
        self.draining = False
        if start.carry is not None:
            self._resume(start.carry)

    def _resume(self, carry: Carry) -> None:
        """Take over from the run before this one."""
        start = self.start
        self.governor = Governor.resumed(start.budget, start.rates, carry.ledger)
        self.breaker.last, self.breaker.streak = carry.breaker_last, carry.breaker_streak
        self.breaker.tripped, self.breaker.since = carry.breaker_tripped, carry.breaker_since
        self.queue.extend(carry.queue)
        self.status = replace(carry.status, running=0, reason=None, done=False)
        self.status.runs += 1
        self.started = carry.started

    def carry(self) -> Carry:
        """What the next run needs (taken when no item is in flight)."""
        breaker = self.breaker
        return Carry(
            self.governor.ledger(), replace(self.status), self.started, list(self.queue),
            breaker.last, breaker.streak, breaker.tripped, breaker.since,
        )  # fmt: skip

    @workflow.run
    async def run(self, start: BatchStart) -> Status:
        """Start items as slots free up until every item fed has ended or the batch stops;
        continue as new when the history is long."""
        while True:
            await workflow.wait_condition(
                lambda: self._can_start() or self._ended() or self._continuing()
            )
            if self._ended():
                break
            if self._continuing():
                self.draining = True  # no new item; the feed takes its waiting page now
                await workflow.wait_condition(lambda: self.status.running == 0)
                if self._ended():
                    break
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(replace(start, carry=self.carry()))
            item = self.queue.popleft()
            self.status.running += 1
            self.started += 1
            asyncio.create_task(self._run_item(item, self.started))  # noqa: RUF006
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status(done=True)

    def _continuing(self) -> bool:
        if self.draining:
            return True
        info = workflow.info()
        long = info.get_current_history_length() > self.start.continue_at
        return long or info.is_continue_as_new_suggested()

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
        return bool(self.queue) and slots and not self.draining and self._stopping() is None

    def _room(self) -> bool:
        """Whether the feed may take a page now (a run draining or stopping always takes it:
        the items are carried to the next run, or listed as not run)."""
        ahead = max(FEED_AHEAD, 2 * self.start.concurrency)
        return len(self.queue) < ahead or self.draining or self._stopping() is not None

    def _ended(self) -> bool:
        if self.status.running:
            return False
        return self._stopping() is not None or (self.status.closed and not self.queue)

    async def _run_item(self, item: ItemIn, number: int) -> None:
        start = self.start
        task = ItemTask(
            start.batch_id, start.crew, item.key, item.inputs, start.offline, start.crew_digest
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
            self._count(item.line, str(done.line.get("status")), done.how, done.line.get("error"))
        except ActivityError as exc:  # out of retries: the submitter records it failed
            self._count(item.line, "failed", "worker", str(exc.cause or exc))
        finally:
            self.status.running -= 1
            self.recordings.pop(item.key, None)

    def _count(self, at: int, status: str, how: str, reason: str | None) -> None:
        if status == "ok":
            self.status.ok += 1
            self.breaker.ok(at)
        elif status == "failed":
            self.status.failed += 1
            self.breaker.failed(how, reason, self.start.batch_id, at)
        else:
            self.status.stopped += 1

    @workflow.update
    async def feed(self, page: Page) -> int:
        """Take a page of items once there is room for it (at once, or not at all, unless
        `page.wait`); the last line of the items file taken so far. A page taken before (sent
        again after a failure, or to the next run) is not taken twice."""
        if page.fed > self.status.fed:
            if not self._room():
                if not page.wait:
                    return self.status.fed
                await workflow.wait_condition(self._room)
            if page.fed > self.status.fed:
                self.queue.extend(page.items)
                self.status.fed = page.fed
                self.status.duplicates += page.duplicates
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
