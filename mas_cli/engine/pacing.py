"""Before each model attempt, wait for the run's rate-limit buckets; after it, settle them."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from mas_cli.engine.context import RunContext
from mas_cli.engine.ratelimit import Ticket
from mas_cli.events.models import RateLimited
from mas_cli.llm.types import Request


async def pace(ctx: RunContext, request: Request, planned_tokens: int) -> Ticket:
    """Reserve this attempt (at `planned_tokens`) in every bucket covering its model; wait
    (and say so) if needed, never longer than max_retry_wait_s (a server may name a reset in
    year 9999)."""
    if ctx.limiter is None:
        return Ticket()
    ticket = ctx.limiter.reserve(request.model, planned_tokens)
    if ticket.wait is not None:
        cap = ctx.crew.spec.limits.max_retry_wait_s
        ticket.wait = wait = replace(ticket.wait, wait_s=min(ticket.wait.wait_s, cap))
        limited = RateLimited(limit=wait.key, reason=wait.reason, wait_s=round(wait.wait_s, 3))
        ctx.sink.emit(limited, request.site)
        await asyncio.sleep(wait.wait_s)
    return ticket
