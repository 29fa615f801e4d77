"""Before each model attempt, wait for the run's rate-limit buckets; after it, settle them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from mas_cli.engine.context import RunContext, Where
from mas_cli.engine.ratelimit import Ticket
from mas_cli.events.models import RateLimited
from mas_cli.llm.types import Request


async def pace(
    ctx: RunContext, request: Request, where: Where, planned: Callable[[Request], int]
) -> Ticket:
    """Reserve this attempt in every bucket covering its model; wait (and say so) if needed,
    never longer than max_retry_wait_s (a server may name a reset in year 9999)."""
    if ctx.limiter is None:
        return Ticket()
    ticket = ctx.limiter.reserve(request.model, lambda: planned(request))
    if ticket.wait is not None:
        cap = ctx.crew.spec.limits.max_retry_wait_s
        ticket.wait = replace(ticket.wait, wait_s=min(ticket.wait.wait_s, cap))
        wait = ticket.wait
        limited = RateLimited(limit=wait.key, reason=wait.reason, wait_s=round(wait.wait_s, 3))
        ctx.sink.emit(limited, where)
        await asyncio.sleep(ticket.wait.wait_s)
    return ticket
