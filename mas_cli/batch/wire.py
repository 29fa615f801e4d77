"""The line between a batch and its worker processes (workers.py, worker.py): messages as
pickled dicts, each after its length, over a Unix socket pair; and the gate a worker's runs
ask the batch's budget through (engine/gate.py).

Both ends are this program, started by the batch itself: pickle carries our own dataclasses
(a LimitHit, a Decimal) as they are. Messages, by `op`:

- batch to worker: `setup` (the crew, home, options), `item` (key, inputs, the run to resume),
  `grant` (the answer to an `admit`: a LimitHit, or None), `stop` (interrupt the runs), `end`.
- worker to batch: `ready`, `admit` (a model attempt's worst case), `settle` (what it spent),
  `release` (not made after all), `done` (an item's results line, its breaker signature,
  whether it is a dead letter; in a batch without a budget, where nothing is asked before a
  call, also what calls spent since the last `done`).
"""

from __future__ import annotations

import asyncio
import itertools
import pickle
from decimal import Decimal
from typing import Any

from mas_cli.engine.outcomes import LimitHit
from mas_cli.llm.types import CallSite
from mas_cli.spec.model_spec import ModelSpec

Message = dict[str, Any]


async def receive(reader: asyncio.StreamReader) -> Message | None:
    """The next message; None at the end of the stream (the other end closed or died)."""
    try:
        size = int.from_bytes(await reader.readexactly(4), "big")
        message: Message = pickle.loads(await reader.readexactly(size))
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return message


def send(writer: asyncio.StreamWriter, message: Message) -> None:
    """Queue a message (the transport writes it as the loop runs); never raises for a closed
    line: the reader of the other end sees its end."""
    if writer.is_closing():
        return
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(len(data).to_bytes(4, "big") + data)


class Link:
    """A worker's end: messages out, and the batch's answers matched to the asks by id."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Message]] = {}

    async def ask(self, message: Message) -> Message:
        """Send and wait for the answer with the same id."""
        ask_id = next(self._ids)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiting[ask_id] = future
        send(self.writer, {**message, "id": ask_id})
        try:
            return await future
        finally:
            self._waiting.pop(ask_id, None)

    def tell(self, message: Message) -> None:
        """Send, expecting no answer."""
        send(self.writer, message)

    def answered(self, message: Message) -> None:
        """An answer arrived: wake its ask."""
        future = self._waiting.get(message.get("id", 0))
        if future is not None and not future.done():
            future.set_result(message)

    def lost(self) -> None:
        """The batch is gone: every ask waiting is refused."""
        for future in self._waiting.values():
            if not future.done():
                future.set_result({"op": "grant", "hit": None, "lost": True})


class LinkGate:
    """The engine's gate in a worker: each model attempt holds its worst case in the batch's
    ledger (workers.py) before it is made, and settles there after, so workers calling at once
    pass the batch budget no more than runs of one process do. A call cancelled in flight keeps
    its hold, as a run's own guard does."""

    def __init__(self, link: Link, budget: bool = True) -> None:
        self.link = link
        self.budget = budget
        """False: the batch has no budget, so nothing is asked before a call (no round trip);
        what each call spent is still told after it, for the batch's totals."""
        self.leases: dict[tuple[str | None, str, str, int, int], int] = {}
        self.unsent = (0, 0, Decimal(0))  # calls, tokens, dollars spent and not yet told

    def spent(self) -> tuple[int, int, Decimal]:
        """What calls spent since the last time this was asked (sent with each item's line:
        one message an item rather than one a call, in a batch without a budget)."""
        unsent, self.unsent = self.unsent, (0, 0, Decimal(0))
        return unsent

    async def admit(
        self, site: CallSite, model: ModelSpec, worst: tuple[int, Decimal | None], planned: int
    ) -> LimitHit | None:
        del model, planned  # rate limits are each worker's share (see worker.py)
        if not self.budget:
            return None
        ask = {"op": "admit", "agent": site.agent, "task": site.task}
        answer = await self.link.ask({**ask, "tokens": worst[0], "cost": worst[1] or Decimal(0)})
        if answer.get("lost"):
            return LimitHit("max_llm_calls", 0, 0, "batch", site.agent, site.task)
        hit: LimitHit | None = answer["hit"]
        if hit is None:
            self.leases[_key(site)] = answer["lease"]
        return hit

    async def release(self, site: CallSite) -> None:
        lease = self.leases.pop(_key(site), None)
        if lease is not None:
            self.link.tell({"op": "release", "lease": lease})

    async def settled(self, site: CallSite, tokens: int, cost: Decimal | None) -> None:
        lease = self.leases.pop(_key(site), None)
        spent = {"tokens": tokens, "cost": cost or Decimal(0)}
        if lease is not None:
            self.link.tell({"op": "settle", "lease": lease, **spent})
        elif not self.budget:
            calls, spent_tokens, dollars = self.unsent
            self.unsent = (calls + 1, spent_tokens + tokens, dollars + (cost or Decimal(0)))

    async def checkpoint(self) -> None:
        """A side effect completed: the run's own log already holds it (a resume reads it)."""


def _key(site: CallSite) -> tuple[str | None, str, str, int, int]:
    return (site.span, site.agent, site.task, site.turn, site.attempt)
