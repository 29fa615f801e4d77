"""Before each model attempt, wait for the run's rate-limit buckets; after it, settle them."""

from __future__ import annotations

import asyncio

from mas_cli.engine.context import RunContext
from mas_cli.engine.ratelimit import Ticket
from mas_cli.events.models import RateLimited
from mas_cli.llm.types import Request
from mas_cli.records import replace


async def pace(ctx: RunContext, request: Request, planned_tokens: int) -> Ticket:
    """Reserve this attempt (at `planned_tokens`) in every bucket covering its model; wait
    (and say so) if needed. The whole wait is waited, or a queue of calls would start together
    (three calls at `rpm: 1`: the third waits two minutes), in `rate_limited` waits of at most
    max_retry_wait_s each; a 429's reset holds a bucket no longer than that (ratelimit.py)."""
    if ctx.limiter is None:
        return Ticket()
    ticket = ctx.limiter.reserve(request.model, planned_tokens)
    if ticket.wait is not None:
        cap = ctx.crew.spec.limits.max_retry_wait_s
        left = ticket.wait.wait_s
        while left > 0:
            wait = replace(ticket.wait, wait_s=min(left, cap))
            limited = RateLimited(limit=wait.key, reason=wait.reason, wait_s=round(wait.wait_s, 3))
            ctx.sink.emit(limited, request.site)
            await asyncio.sleep(wait.wait_s)
            left -= wait.wait_s
    return ticket
