"""A gate every model call and side effect passes, owned outside the run: the seam a fleet of
workers shares one budget and one set of rate limits through (mas_cli.fleet), where a ledger
in one process cannot reach.

A gate is asked after the run's own limits and its local rate buckets, before each attempt:
it may make the call wait, or refuse it with a `LimitHit` (the run stops as at any limit).
After the attempt it is told what the attempt spent; after a side effect completed it is
given the chance to save the run's recording. The engine awaits each, so what the gate saves
is saved before the run goes on.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from mas_cli.engine.outcomes import LimitHit
from mas_cli.llm.types import CallSite
from mas_cli.spec.model_spec import ModelSpec


class Gate(Protocol):
    """What a run asks of a gate. Its listener side hears the run's events (RunOptions)."""

    async def admit(
        self, site: CallSite, model: ModelSpec, worst: tuple[int, Decimal | None], planned: int
    ) -> LimitHit | None:
        """Before an attempt: may a call of this worst case (tokens, dollars) be made now?
        Waits while a shared rate limit is spent; a LimitHit refuses the call."""
        ...

    async def release(self, site: CallSite) -> None:
        """An admitted attempt was not made after all (the run's own guard refused it)."""
        ...

    async def settled(self, site: CallSite, tokens: int, cost: Decimal | None) -> None:
        """An admitted attempt ended (answered or failed) having spent this much."""
        ...

    async def checkpoint(self) -> None:
        """A side effect completed: save what a retry elsewhere would need."""
        ...
