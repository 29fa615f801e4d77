"""A worker's one line to a batch workflow: what its items ask and tell (leases, settlements,
recordings) goes out together, one Workflow Update at a time. Items wait for their part of
the answer; the update is retried on a transient failure (each part is safe to send twice:
a lease granted twice only narrows the rate window, a settlement or a chunk counts once)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from mas_cli.errors import MasError
from mas_cli.fleet.messages import Ask, Exchange, Grant, Recording, Settle

RETRY_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


@dataclass
class _Part:
    asks: list[Ask]
    settles: list[Settle]
    recording: Recording | None
    answer: asyncio.Future[list[Grant]]


@dataclass
class Link:
    """The exchanges of one worker with one batch workflow."""

    handle: Any
    waiting: list[_Part] = field(default_factory=list)
    sending: asyncio.Task[None] | None = None

    async def send(
        self,
        asks: list[Ask] | None = None,
        settles: list[Settle] | None = None,
        recording: Recording | None = None,
    ) -> list[Grant]:
        """Send with the next update; the grants of `asks`, in order.

        Raises:
            MasError: the workflow did not answer, after retries (it ended, or is gone).
        """
        answer: asyncio.Future[list[Grant]] = asyncio.get_running_loop().create_future()
        self.waiting.append(_Part(asks or [], settles or [], recording, answer))
        if self.sending is None or self.sending.done():
            self.sending = asyncio.create_task(self._send_all())
        return await answer

    async def _send_all(self) -> None:
        while self.waiting:
            parts, self.waiting = self.waiting, []
            exchange = Exchange(
                [a for p in parts for a in p.asks],
                [s for p in parts for s in p.settles],
                [p.recording for p in parts if p.recording is not None],
            )
            try:
                grants = await self._update(exchange)
            except Exception as exc:  # every item waiting hears of it: none waits for good
                failed = exc if isinstance(exc, MasError) else self._failed(exc)
                for part in parts:
                    part.answer.set_exception(failed)
                continue
            except asyncio.CancelledError:
                for part in parts:
                    part.answer.cancel()
                raise
            for part in parts:
                part.answer.set_result(grants[: len(part.asks)])
                grants = grants[len(part.asks) :]

    async def _update(self, exchange: Exchange) -> list[Grant]:
        from temporalio.client import (
            RPCError,
            RPCTimeoutOrCancelledError,
            WorkflowUpdateFailedError,
        )

        for wait in (*RETRY_S, None):
            try:
                grants: list[Grant] = await self.handle.execute_update(
                    "exchange", exchange, result_type=list[Grant]
                )
                return grants
            except (RPCError, WorkflowUpdateFailedError, RPCTimeoutOrCancelledError) as exc:
                given_back()
                if wait is None:
                    raise self._failed(exc) from None
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    def _failed(self, exc: Exception) -> MasError:
        return MasError(
            f"the batch workflow {self.handle.id} did not answer: {exc}",
            hint=f"is the batch still running? see: mas batch status {self.handle.id}",
        )


def given_back() -> None:
    """Raise CancelledError when this task is being cancelled: the SDK turns the cancel of an
    update in flight into RPCTimeoutOrCancelledError, which is otherwise a timeout to retry.

    Raises:
        asyncio.CancelledError: the task is being cancelled.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
