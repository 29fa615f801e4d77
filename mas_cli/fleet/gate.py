"""A worker's side of the governor: the engine's gate (engine/gate.py) asking the batch
workflow before and after each model attempt, through the worker's link (fleet/link.py).

Before an attempt it leases the attempt's worst case and its rate (waiting while a window is
spent, asking again when a grant came back too late to use). After it, it settles what the
attempt spent and, in the same exchange, saves the item's recording so far: the new lines of
its run logs. After a side effect it saves them too. So a worker killed at any point loses
at most the call in flight: a retry elsewhere resumes from what the workflow holds.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import cast

from mas_cli.engine.outcomes import LimitHit, LimitKind
from mas_cli.engine.ratelimit import RateLimiter
from mas_cli.errors import MasError
from mas_cli.events.models import Event
from mas_cli.fleet.governor import LEASE_S
from mas_cli.fleet.link import Link, given_back
from mas_cli.fleet.messages import Ask, Chunk, Grant, Recording, Settle
from mas_cli.fleet.runfiles import Tail
from mas_cli.llm.types import CallSite
from mas_cli.spec.model_spec import ModelSpec


class Superseded(MasError):
    """This attempt of the item was given up on (its worker presumed lost) and runs elsewhere."""


@dataclass
class FleetGate:
    """One attempt of one item: its leases, and the tail of its run logs still to save."""

    link: Link
    item: str
    attempt: int
    tail: Tail
    limiter: RateLimiter | None
    leases: dict[tuple[str | None, str, str, int, int], str] = field(default_factory=dict)

    def __call__(self, event: Event) -> None:
        """A listener of the run: which runs this item has (a resume makes a new one)."""
        self.tail.add(event.run_id)

    async def recover(self) -> str | None:
        """On a retry: restore what earlier attempts saved; the run to resume, if any."""
        from temporalio.client import (
            RPCError,
            RPCTimeoutOrCancelledError,
            WorkflowUpdateFailedError,
        )

        point = Recording(self.item, self.attempt)
        try:
            chunks = await self.link.handle.execute_update(
                "recover", point, result_type=list[Chunk]
            )
        except (RPCError, WorkflowUpdateFailedError, RPCTimeoutOrCancelledError) as exc:
            given_back()
            raise MasError(f"the batch workflow did not answer: {exc}") from None
        return self.tail.restore(chunks)

    async def admit(
        self, site: CallSite, model: ModelSpec, worst: tuple[int, Decimal | None], planned: int
    ) -> LimitHit | None:
        cost = None if worst[1] is None else str(worst[1])
        ask = Ask(self.item, self.attempt, "", worst[0], cost, self._rates(model), planned)
        while True:
            ask = replace(ask, lease=uuid.uuid4().hex)
            sent = time.monotonic()
            [grant] = await self.link.send(asks=[ask])
            if grant.superseded:
                raise Superseded(f"item {self.item}: attempt {self.attempt} runs elsewhere now")
            if grant.kind is not None:
                return _hit(grant, site)
            # Half the lease to get the answer back, half to get the request out.
            if grant.ok and time.monotonic() - sent <= LEASE_S / 2:
                self.leases[_key(site)] = ask.lease
                return None
            if grant.ok:  # granted too late to be sure of the window: give it back, ask again
                await self.link.send(settles=[Settle(ask.lease, made=False)])
                continue
            await asyncio.sleep(grant.wait_s)

    async def release(self, site: CallSite) -> None:
        lease = self.leases.pop(_key(site), None)
        if lease is not None:
            await self.link.send(settles=[Settle(lease, made=False)])

    async def settled(self, site: CallSite, tokens: int, cost: Decimal | None) -> None:
        lease = self.leases.pop(_key(site), None)
        spent = [Settle(lease, tokens, None if cost is None else str(cost))] if lease else []
        await self.link.send(settles=spent, recording=self._recording())

    async def checkpoint(self) -> None:
        recording = self._recording()
        if recording is not None:
            await self.link.send(recording=recording)

    def _recording(self) -> Recording | None:
        chunks = self.tail.chunks()
        return Recording(self.item, self.attempt, chunks) if chunks else None

    def _rates(self, model: ModelSpec) -> list[str]:
        if self.limiter is None:
            return []
        return [limit.key for limit in self.limiter.limits if limit.covers(model)]


def _key(site: CallSite) -> tuple[str | None, str, str, int, int]:
    return (site.span, site.agent, site.task, site.turn, site.attempt)


def _hit(grant: Grant, site: CallSite) -> LimitHit:
    kind = cast(LimitKind, grant.kind)
    value = grant.value or 0.0
    shown = value if kind == "max_cost_usd" else int(value)
    return LimitHit(kind, shown, grant.threshold or 0.0, "batch", site.agent, site.task)
